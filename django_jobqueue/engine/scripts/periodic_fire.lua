-- Enqueue one tick of a periodic job, exactly once however many workers try: the tick is
-- claimed by moving the job's next tick from `expected` to `next` (only the first caller
-- finds `expected` there), and the job is enqueued in the same step.
-- ARGV: prefix, name, digest (the caller's definition), expected tick (as the due list gave
--       it; '' = run now: no claim), next tick, tick ('' = none), mode ('fire' | 'missed':
--       a missed tick, claimed and not run | 'error': claimed, its job could not be
--       built), overlap ('1': enqueue even while the last run is queued or running), queue,
--       job ('' when not firing: id, ttl, then field/value pairs of the job's hash, packed).
-- Returns {'fired', job id} | {'moved'} (claimed by another worker, or the stored
--         definition is another worker's) | {'disabled'} | {'missed'} | {'error'} |
--         {'overlap', running job id} | {'missing'} (no such periodic job) |
--         {'exists', job id} (this tick's job is there already).
local name, digest, expected, next_tick = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local tick, mode, overlap, queue, packed = ARGV[6], ARGV[7], ARGV[8] == '1', ARGV[9], ARGV[10]
local pkey = k_periodic(name)
local state = redis.call('HMGET', pkey, 'digest', 'enabled', 'last_job')
if expected ~= '' then
  if not state[1] then
    return {'missing'}
  end
  if state[1] ~= digest then
    return {'moved'}  -- the stored definition differs: its own workers run it
  end
  local score = redis.call('ZSCORE', k_periodics(), name)
  if score ~= expected then
    return {'moved'}
  end
  redis.call('ZADD', k_periodics(), next_tick, name)
end
local now = server_time()
local function skipped(reason)
  redis.call('HSET', pkey, 'last_skipped_tick', tick, 'last_skip_reason', reason)
  redis.call('HINCRBY', pkey, 'skipped', 1)
end
if expected ~= '' and state[2] == '0' then
  skipped('disabled')
  return {'disabled'}
end
if mode ~= 'fire' then
  skipped(mode)
  return {mode}
end
local last = state[3]
if not overlap and last and last ~= '' then
  if ACTIVE[redis.call('HGET', k_job(last), 'status')] then
    skipped('overlap')
    return {'overlap', last}
  end
end
local item = unpack_fields(packed)
local id, ttl = item[1], tonumber(item[2]) or 0
local jkey = k_job(id)
if redis.call('EXISTS', jkey) == 1 then
  return {'exists', id}
end
local fields = {'origin', queue, 'created_at', fmt(now)}
for k = 3, #item do
  fields[#fields + 1] = item[k]
end
redis.call('HSET', jkey, unpack(fields))
if ttl > 0 then
  redis.call('EXPIRE', jkey, ttl)
end
push_to_queue(queue, id, jkey, false, now)
redis.call('HSET', pkey, 'last_job', id, 'last_tick', tick, 'last_enqueued_at', fmt(now))
return {'fired', id}
