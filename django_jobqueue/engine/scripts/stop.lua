-- Ask the worker running a job to stop it (it records the job as stopped).
-- ARGV: prefix, id, seconds the request stays valid.
-- A job a pool's slot runs: the request goes to the pool (a set of job ids its supervisor
-- reads on every tick, so that a pool's traffic does not grow with its slots); a worker's
-- own: a string naming the job.
-- Returns 'ok', 'missing' or 'status:<status>' (only a started job can be stopped).
local id, ttl = ARGV[2], tonumber(ARGV[3])
local f = redis.call('HMGET', k_job(id), 'status', 'worker_name')
if not f[1] then
  return 'missing'
end
if not STOPPABLE[f[1]] or not f[2] or f[2] == '' then
  return 'status:' .. f[1]
end
local pool = redis.call('HGET', k_worker(f[2]), 'pool')
if pool and pool ~= '' then
  redis.call('SADD', k_stops(pool), id)
  redis.call('EXPIRE', k_stops(pool), ttl)
else
  redis.call('SET', k_stop(f[2]), id, 'EX', ttl)
end
return 'ok'
