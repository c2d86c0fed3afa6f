-- Record a job's success: started registry -> finished registry (or deleted), release its
-- dependents, its concurrency slot and, for a unique job, its uniqueness key (kept
-- unique_for more seconds, and the job too: its result_ttl is raised to unique_for when
-- shorter), and count it in its group (the last one enqueues the group's callbacks) and in
-- the queue's metrics (_metrics.lua); then,
-- when queue names follow, take the worker's next job in the same step.
-- Sent again as it is after a lost reply, it records nothing twice (claim, in _take.lua).
-- ARGV: prefix, id, queue, worker, attempt, result entry, result_ttl, results kept, seconds
--       it ran ('' = unknown: not in the histogram), [lease, queues...].
-- Returns {'finished' | 'recorded' (already) | 'lost' (no longer this worker's),
--          next job (see take_next) or false}.
local id, queue, worker, attempt = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local entry, ttl, keep, duration = ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]),
  tonumber(ARGV[9])
local jkey = k_job(id)
local now = server_time()
local verdict, job = claim(jkey, id, queue, worker, attempt)
if verdict == 'owned' then
  verdict = S_FINISHED
  redis.call('ZREM', k_started(queue), id)
  redis.call('HSET', jkey, 'status', S_FINISHED, 'ended_at', fmt(now), 'recorded_attempt',
    attempt)
  if attempt ~= '1' then
    redis.call('HDEL', jkey, 'exc_info')  -- an earlier attempt's failure (a first has none)
  end
  record_result(id, entry, keep)
  if job.unique_key then
    local window = unique_window(job.unique_for)
    release_unique(job.unique_key, id, window)
    if window > 0 and ttl >= 0 and ttl < window then
      ttl = window  -- an enqueue within the window returns this job: it must still exist
    end
  end
  if ttl ~= 0 then
    redis.call('ZADD', k_finished(queue), expiry_score(now, ttl), id)
  end
  expire_job(id, ttl)
  if job.has_dependents == '1' then  -- after its own move: a corrupt dependent cannot undo it
    release_dependents(id, now)
  end
  limit_free(job.limit_key, id, now)
  group_move(job.group, S_STARTED, S_FINISHED, now)
  count_outcome(queue, job.func_name, S_FINISHED, duration, now)
end
local next_job = false
if #ARGV > 9 then
  next_job = take_next(worker, tonumber(ARGV[10]), 11, now, verdict == S_FINISHED and id or '')
end
return {verdict, next_job}
