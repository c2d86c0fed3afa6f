-- Ask the worker running a job to stop it (it records the job as stopped).
-- ARGV: prefix, id, seconds the request stays valid.
-- Returns 'ok', 'missing' or 'status:<status>' (only a started job can be stopped).
local id = ARGV[2]
local f = redis.call('HMGET', k_job(id), 'status', 'worker_name')
if not f[1] then
  return 'missing'
end
if not STOPPABLE[f[1]] or not f[2] or f[2] == '' then
  return 'status:' .. f[1]
end
redis.call('SET', k_stop(f[2]), id, 'EX', tonumber(ARGV[3]))
return 'ok'
