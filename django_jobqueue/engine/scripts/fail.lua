-- Record a job's failure: retry it (queue or schedule) or move it to the failed registry
-- (its dependents then released or canceled: end_dependents in _dependencies.lua; it counts
-- as ended in its group: group_move); a running job's concurrency slot is freed;
-- then, when queue names follow, take the worker's next job in the same step. Sent again as
-- it is after a lost reply, it records nothing twice (claim, in _take.lua).
-- ARGV: prefix, id, queue, worker ('' = quarantine: from wherever the job is), attempt,
--       exc_info, result entry, results kept, retry delay ('' = no retry; else seconds, 0
--       queues it again at once: the worker works it out from the job's Retry),
--       final status (failed | stopped), seconds it ran ('' = unknown: not in the
--       histogram), [lease, queues...].
-- Returns {'queued' | 'scheduled' | 'failed' | 'stopped' | 'missing' | 'recorded' (already)
--          | 'lost' (no longer this worker's) | 'status:started' (quarantine of a running
--          job), next job (see take_next) or false}.
local id, queue, worker, attempt, exc_info = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local entry, keep, retry_delay, final = ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10]
local duration = tonumber(ARGV[11])
local jkey = k_job(id)
local now = server_time()

local function record()
  if redis.call('EXISTS', jkey) == 0 then
    return 'missing', false
  end
  local old, func = S_STARTED, false
  if worker == '' then
    old = redis.call('HGET', jkey, 'status')
    if old == S_STARTED then
      return 'status:' .. S_STARTED, false  -- a running job is its worker's to record
    end
    remove_everywhere(queue, id)
  else
    local verdict, job = claim(jkey, id, queue, worker, attempt)
    if verdict ~= 'owned' then
      return verdict, false
    end
    redis.call('ZREM', k_started(queue), id)
    limit_free(job.limit_key, id, now)
    func = job.func_name or '?'
  end
  -- recorded_attempt before a retry takes the job again ('' for a quarantine: no attempt)
  redis.call('HSET', jkey, 'exc_info', exc_info, 'ended_at', fmt(now), 'recorded_attempt',
    attempt)
  record_result(id, entry, keep)
  if retry_delay then
    local left = tonumber(redis.call('HGET', jkey, 'retries_left')) or 0  -- corrupt: none
    if left > 0 then
      redis.call('HSET', jkey, 'retries_left', left - 1)
      if func then
        count_outcome(queue, func, 'retried', duration, now)
      end
      if retry_delay > 0 and retry_delay < math.huge then  -- (nan fails both: queued now)
        redis.call('HSET', jkey, 'status', S_SCHEDULED)
        redis.call('ZADD', k_scheduled(queue), now + retry_delay, id)
        return S_SCHEDULED, true
      end
      push_to_queue(queue, id, jkey, false, now)
      return S_QUEUED, true
    end
  end
  local ending = redis.call('HMGET', jkey, 'failure_ttl', 'unique_key', 'has_dependents',
    'group')
  local failure_ttl = failure_ttl_of(ending[1])
  release_unique(ending[2], id, 0)  -- a unique job's key is free again (uniqueness.py)
  redis.call('HSET', jkey, 'status', final)
  redis.call('ZADD', k_failed(queue), expiry_score(now, failure_ttl), id)
  redis.call('SADD', k_queues(), queue)
  expire_job(id, failure_ttl)
  if ending[3] == '1' then  -- its dependents (after its own move): released or canceled
    end_dependents(id, final == S_STOPPED and 'was stopped' or 'failed for good', now)
  end
  group_move(ending[4], old, final, now)
  if func then  -- an execution's end (a quarantine is an operator's move: not counted)
    count_outcome(queue, func, final, duration, now)
  end
  return final, true
end

local outcome, recorded = record()
local next_job = false
if #ARGV > 11 then
  next_job = take_next(worker, tonumber(ARGV[12]), 13, now, recorded and id or '')
end
return {outcome, next_job}
