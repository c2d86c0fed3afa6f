-- A worker's heartbeat: refresh its record and the lease of the job it is running.
-- ARGV: prefix, worker, record ttl, lease seconds, job id ('' when idle), job's queue,
--       then field/value pairs describing the worker (so a lost record comes back whole).
-- Returns the server time.
local worker, ttl, lease, job, queue = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6]
local now = server_time()
local wkey = k_worker(worker)
redis.call('HSET', wkey, 'last_heartbeat', fmt(now), unpack(ARGV, 7))
redis.call('EXPIRE', wkey, ttl)
redis.call('ZADD', k_workers(), now, worker)
if job ~= '' then
  redis.call('ZADD', k_started(queue), 'XX', now + lease, job)
end
return fmt(now)
