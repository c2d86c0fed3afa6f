-- A pool's heartbeat, sent by its supervisor for itself, its children and their slots in one
-- step (an idle pool's traffic does not grow with its size): refresh each record and renew
-- the lease of each job the pool's slots run.
-- ARGV: prefix, record ttl, lease, record count, records..., leases....
--   a record is: name, listed ('1': in the workers set, as the pool and its children are;
--   '': a slot, found through its child), field count, field/value pairs...;
--   a lease is: job id, queue, worker (the slot running it): renewed only while the job is
--   still that worker's.
-- Returns the server time.
local ttl, lease, count = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = server_time()
local stamp = fmt(now)
local i = 5
for _ = 1, count do
  local name, listed, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local wkey = k_worker(name)
  redis.call('HSET', wkey, 'last_heartbeat', stamp, unpack(ARGV, i + 3, i + 2 + 2 * n))
  redis.call('HSETNX', wkey, 'current_job', '')  -- a take writes it only where it exists
  redis.call('EXPIRE', wkey, ttl)
  if listed == '1' then
    redis.call('ZADD', k_workers(), now, name)
  end
  i = i + 3 + 2 * n
end
while i + 2 <= #ARGV do
  local job, queue, worker = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if redis.call('HGET', k_job(job), 'worker_name') == worker then
    redis.call('ZADD', k_started(queue), 'XX', now + lease, job)
  end
  i = i + 3
end
return stamp
