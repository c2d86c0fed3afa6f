-- Counts of every queue given, and every live worker's record, in one step (the admin's
-- dashboard and the metrics endpoints).
-- ARGV: prefix, queue names...
-- Returns {server time, per queue {queued, started, scheduled, deferred, finished, failed,
--          canceled, enqueued_at of its oldest queued job or ''}..., then worker records
--          as flat field/value lists}.
local now = server_time()
local out = {fmt(now)}
local open = '(' .. fmt(now)

-- The oldest queued job: the head of each priority band (FIFO within a band), and the tail
-- of the at-front band (negative scores, most recent first).
local function oldest(qkey)
  local best = nil
  local function consider(id)
    local at = tonumber(redis.call('HGET', k_job(id), 'enqueued_at') or '')
    if at and (best == nil or at < best) then
      best = at
    end
  end
  local front = redis.call('ZREVRANGEBYSCORE', qkey, '(0', '-inf', 'LIMIT', 0, 1)
  if front[1] then
    consider(front[1])
  end
  local low = 0
  while true do
    local head = redis.call('ZRANGEBYSCORE', qkey, low, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if not head[1] then
      break
    end
    consider(head[1])
    low = (math.floor(tonumber(head[2]) / PRIORITY_SPAN) + 1) * PRIORITY_SPAN
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
  }
end
for _, name in ipairs(redis.call('ZRANGE', k_workers(), 0, -1)) do
  local fields = redis.call('HGETALL', k_worker(name))
  if #fields > 0 then
    out[#out + 1] = fields
  end
end
return out
