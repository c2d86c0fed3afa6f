-- Record a job's success: started registry -> finished registry (or deleted), release its
-- dependents; then, when queue names follow, take the worker's next job in the same step.
-- ARGV: prefix, id, queue, worker, result entry, result_ttl, results kept, working time,
--       [lease, queue names...].
-- Returns {1 | 0 (the job was no longer this worker's), next job (see take_next) or false}.
local id, queue, worker = ARGV[2], ARGV[3], ARGV[4]
local entry, ttl, keep = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local jkey = k_job(id)
local now = server_time()
local owned, has_dependents = claim(jkey, id, queue, worker)
if owned then
  redis.call('ZREM', k_started(queue), id)
  redis.call('HSET', jkey, 'status', 'finished', 'ended_at', fmt(now))
  redis.call('HDEL', jkey, 'exc_info')
  record_result(id, entry, keep)
  if has_dependents then
    release_dependents(id, now)
  end
  if ttl ~= 0 then
    redis.call('ZADD', k_finished(queue), expiry_score(now, ttl), id)
  end
  expire_job(id, ttl)
end
local next_job = false
if #ARGV > 9 then
  next_job = take_next(worker, tonumber(ARGV[9]), 10, now)
end
return {owned and 1 or 0, next_job}
