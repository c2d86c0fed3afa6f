-- Record a job's success: started registry -> finished registry (or deleted), release dependents.
-- ARGV: prefix, id, queue, worker, result entry, result_ttl, results kept, working time.
-- Returns 1, or 0 when the job is no longer this worker's to finish.
local id, queue, worker = ARGV[2], ARGV[3], ARGV[4]
local entry, ttl, keep = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local jkey = k_job(id)
if not owned_by(jkey, id, queue, worker) then
  return 0
end
local now = server_time()
redis.call('ZREM', k_started(queue), id)
redis.call('HSET', jkey, 'status', 'finished', 'ended_at', fmt(now))
redis.call('HDEL', jkey, 'exc_info')
record_result(id, entry, keep)
release_dependents(id, now)
if ttl ~= 0 then
  redis.call('ZADD', k_finished(queue), expiry_score(now, ttl), id)
end
expire_job(id, ttl)
worker_done(worker, 'successful_job_count', ARGV[8])
return 1
