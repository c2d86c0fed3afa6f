-- A worker's heartbeat: refresh its record and the lease of the job it is running.
-- ARGV: prefix, worker, record ttl, lease, job id ('' when idle), job's queue,
--       whole ('1': the worker starts, its record is written anew; '': the record's
--       current_job is left as the job steps wrote it, unless the record was lost),
--       record... (field/value pairs describing the worker, so a lost record comes back
--       whole).
-- Returns the server time.
local worker, ttl, lease, job, queue = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6]
local now = server_time()
local wkey = k_worker(worker)
redis.call('HSET', wkey, 'last_heartbeat', fmt(now), unpack(ARGV, 8))
if ARGV[7] == '1' then
  redis.call('HSET', wkey, 'current_job', job)
else
  redis.call('HSETNX', wkey, 'current_job', job)
end
redis.call('EXPIRE', wkey, ttl)
redis.call('ZADD', k_workers(), now, worker)
-- renew the lease of the job this worker runs, only while it is still this worker's (a
-- snapshot taken just before the job was recorded must not extend another worker's lease)
if job ~= '' and redis.call('HGET', k_job(job), 'worker_name') == worker then
  redis.call('ZADD', k_started(queue), 'XX', now + lease, job)
end
return fmt(now)
