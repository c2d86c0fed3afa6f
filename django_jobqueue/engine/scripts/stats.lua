-- Counts of every queue given, and every live worker's record, in one step (the admin's
-- dashboard and the metrics endpoints).
-- ARGV: prefix, queues....
-- Returns {server time, per queue {queued, started, scheduled, deferred, finished, failed,
--          canceled, enqueued_at of its oldest queued job or '', 1 when paused else 0}...,
--          then worker records as flat field/value lists}.
local now = server_time()
local out = {fmt(now)}
local open = '(' .. fmt(now)

-- The oldest queued job: the head of each priority band (FIFO within a band), and the tail
-- of the at-front band (negative scores, most recent first). An id whose hash expired while
-- queued (its ttl ran out) is passed over, up to GHOSTS_SKIPPED per band.
local GHOSTS_SKIPPED = 20

local function oldest(qkey)
  local best = nil
  -- the first live job among ids (flat id, score pairs), staying within one band
  local function consider(found, band)
    for n = 1, #found, 2 do
      if band ~= nil and math.floor(tonumber(found[n + 1]) / PRIORITY_SPAN) ~= band then
        return
      end
      local at = tonumber(redis.call('HGET', k_job(found[n]), 'enqueued_at') or '')
      -- a corrupt time (not a number, NaN, before 1970 or past year 9999) is passed over
      if at and at == at and at > 0 and at < 253402300800 then
        if best == nil or at < best then
          best = at
        end
        return
      end
    end
  end
  consider(redis.call('ZREVRANGEBYSCORE', qkey, '(0', '-inf', 'WITHSCORES', 'LIMIT', 0,
                      GHOSTS_SKIPPED), nil)
  local low = 0
  while true do
    local head = redis.call('ZRANGEBYSCORE', qkey, low, '+inf', 'WITHSCORES', 'LIMIT', 0,
                            GHOSTS_SKIPPED)
    if not head[1] then
      break
    end
    local band = math.floor(tonumber(head[2]) / PRIORITY_SPAN)
    consider(head, band)
    low = (band + 1) * PRIORITY_SPAN
  end
  if best == nil then
    return ''
  end
  return fmt(best)
end

for i = 2, #ARGV do
  local queue = ARGV[i]
  local qkey = k_queue(queue)
  out[#out + 1] = {
    redis.call('ZCARD', qkey),
    redis.call('ZCARD', k_started(queue)),
    redis.call('ZCARD', k_scheduled(queue)),
    redis.call('ZCARD', k_deferred(queue)),
    redis.call('ZCOUNT', k_finished(queue), open, '+inf'),
    redis.call('ZCOUNT', k_failed(queue), open, '+inf'),
    redis.call('ZCOUNT', k_canceled(queue), open, '+inf'),
    oldest(qkey),
    redis.pcall('SISMEMBER', k_paused(), queue) == 1 and 1 or 0,  -- corrupt: not paused
  }
end
for _, name in ipairs(redis.call('ZRANGE', k_workers(), 0, -1)) do
  local fields = redis.call('HGETALL', k_worker(name))
  if #fields > 0 then
    out[#out + 1] = fields
  end
end
return out
