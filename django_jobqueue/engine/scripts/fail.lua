-- Record a job's failure: retry it (queue or schedule) or move it to the failed registry;
-- then, when queue names follow, take the worker's next job in the same step.
-- ARGV: prefix, id, queue, worker ('' = quarantine: from wherever the job is), exc_info,
--       result entry, results kept, allow retry ('1' or ''), final status (failed | stopped),
--       working time, [lease, queue names...].
-- Returns {'queued' | 'scheduled' | 'failed' | 'stopped' | 'missing' | 'not-owner', next job}.
local id, queue, worker, exc_info = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local entry, keep, allow_retry, final = ARGV[6], tonumber(ARGV[7]), ARGV[8] == '1', ARGV[9]
local jkey = k_job(id)
local now = server_time()

local function record()
  if redis.call('EXISTS', jkey) == 0 then
    return 'missing'
  end
  if worker == '' then
    if redis.call('HGET', jkey, 'status') == 'started' then
      return 'status:started'  -- a running job is its worker's to record
    end
    remove_everywhere(queue, id)
  elseif claim(jkey, id, queue, worker) then
    redis.call('ZREM', k_started(queue), id)
  else
    return 'not-owner'
  end
  redis.call('HSET', jkey, 'exc_info', exc_info, 'ended_at', fmt(now))
  record_result(id, entry, keep)
  if allow_retry then
    local f = redis.call('HMGET', jkey, 'retries_left', 'retry_max', 'retry_intervals')
    local left = tonumber(f[1] or '0')
    if left > 0 then
      redis.call('HSET', jkey, 'retries_left', left - 1)
      local intervals = {}
      for v in string.gmatch(f[3] or '', '[^,]+') do
        intervals[#intervals + 1] = tonumber(v)
      end
      local used = tonumber(f[2] or '0') - left
      local interval = 0
      if #intervals > 0 then
        interval = intervals[math.min(#intervals, used + 1)]
      end
      if interval > 0 then
        redis.call('HSET', jkey, 'status', 'scheduled')
        redis.call('ZADD', k_scheduled(queue), now + interval, id)
        return 'scheduled'
      end
      push_to_queue(queue, id, jkey, false, now)
      return 'queued'
    end
  end
  local failure_ttl = tonumber(redis.call('HGET', jkey, 'failure_ttl') or '31536000')
  if failure_ttl == 0 then
    failure_ttl = -1  -- a failed job is kept for inspection: 0 would lose it
  end
  redis.call('HSET', jkey, 'status', final)
  redis.call('ZADD', k_failed(queue), expiry_score(now, failure_ttl), id)
  redis.call('SADD', k_queues(), queue)
  expire_job(id, failure_ttl)
  return final
end

local outcome = record()
local next_job = false
if #ARGV > 11 then
  next_job = take_next(worker, tonumber(ARGV[11]), 12, now)
end
return {outcome, next_job}
