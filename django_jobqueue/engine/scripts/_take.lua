-- A worker's side of a job: taking the next one, and claiming one it ran so that its outcome
-- is recorded once. Both are written so that a call whose reply was lost can be sent again
-- as it is (the worker does so after a reconnect) and does what the first one did: the job
-- the first call took is handed over again rather than another one, and an attempt's outcome
-- is recorded once.

-- May `worker` record the outcome of `attempt` of this job? Returns a verdict ('owned',
-- 'recorded': this attempt's outcome is in already, 'missing': the job is gone (a finish
-- with result_ttl 0 deletes it), 'lost': it is no longer this worker's) and, when owned, the
-- fields the step that records it needs (CLAIMED_FIELDS, by name: has_dependents,
-- unique_key and unique_for of a unique job (uniqueness.py), group, limit_key, func_name;
-- false when absent). A job whose lease lapsed and that recovery put back on its queue is
-- still owned until another worker takes it (it leaves the queue here, so it does not run
-- twice).
local CLAIMED_FIELDS = {'has_dependents', 'unique_key', 'unique_for', 'group', 'limit_key',
  'func_name'}

local function claim(jkey, id, queue, worker, attempt)
  local f = redis.call('HMGET', jkey, 'status', 'worker_name', 'attempts', 'recorded_attempt',
    unpack(CLAIMED_FIELDS))
  if not f[1] and not f[2] then
    return 'missing', {}
  end
  if f[2] ~= worker or f[3] ~= attempt then
    return 'lost', {}
  end
  if f[4] == attempt then
    return 'recorded', {}
  end
  if f[1] == S_STARTED or (f[1] == S_QUEUED and redis.call('ZREM', k_queue(queue), id) == 1) then
    local info = {}
    for i, name in ipairs(CLAIMED_FIELDS) do
      info[name] = f[4 + i]
    end
    return 'owned', info
  end
  return 'lost', {}
end

-- Jobs over their limit one take moves to the scheduled registry at most.
local LIMIT_PARKED_MAX = 100

-- Take the next job for `worker` from the queues named in ARGV[first..] (in priority order)
-- and record it as started by that worker with a lease, all in this one step. A paused
-- queue is passed over (its jobs stay queued; see pausing.py). A job over its rate or
-- concurrency limit waits in the scheduled registry (_limits.lua) and the take goes on with
-- the next job; after LIMIT_PARKED_MAX such jobs it takes nothing (leaving a wake-up token:
-- the worker takes again at once), so that one call never holds Redis for long.
-- The worker record's `current_job` says what the worker holds: when that job is still
-- started under this worker, a previous call took it and its reply was lost: that job is
-- handed over again (with a fresh lease) instead of a new one. `just_recorded` is the job
-- whose outcome this same call has just recorded: it is not held any more, so the check is
-- skipped (the common case: one command saved per job). Returns {queue, id, packed job
-- hash, 1 when more jobs wait in that queue else 0} or false.
local function take_next(worker, lease, first, now, just_recorded)
  local wkey = k_worker(worker)
  local held = redis.call('HGET', wkey, 'current_job')  -- nil: no record (it expired)
  if held and held ~= '' and held ~= just_recorded then
    local jkey = k_job(held)
    local f = redis.call('HMGET', jkey, 'status', 'worker_name', 'origin')
    if f[1] == S_STARTED and f[2] == worker then
      redis.call('ZADD', k_started(f[3]), now + lease, held)
      return {f[3], held, pack_fields(redis.call('HGETALL', jkey))}
    end
  end
  -- a paused queue (pausing.py) keeps its jobs: one SMISMEMBER for all the queues; a corrupt
  -- `paused` key (an error reply) pauses nothing rather than failing after the outcome
  local paused = first <= #ARGV and redis.pcall('SMISMEMBER', k_paused(), unpack(ARGV, first))
  if type(paused) ~= 'table' or paused.err then
    paused = {}
  end
  local parked = 0
  for qi = first, #ARGV do
    local queue = ARGV[qi]
    local qkey = k_queue(queue)
    while paused[qi - first + 1] ~= 1 do
      local popped = redis.call('ZPOPMIN', qkey)
      if #popped == 0 then
        break
      end
      local id = popped[1]
      local jkey = k_job(id)
      local flat = redis.call('HGETALL', jkey)
      -- a job whose ttl ran out while queued has no hash any more: dropped, never run
      local attempts, has_ttl, token, limited = 1, false, nil, false
      for i = 1, #flat, 2 do
        local name = flat[i]
        if name == 'attempts' then
          attempts = (tonumber(flat[i + 1]) or 0) + 1  -- a corrupt count starts again
        elseif name == 'ttl' then
          has_ttl = true
        elseif name == 'unique_key' then
          token = flat[i + 1]
        elseif name == 'limit_key' then
          limited = true
        end
      end
      local admitted = #flat > 0
      if limited then
        local key, count, period, slots = limit_of(flat)
        local due
        admitted, due = limit_admit(key, count, period, slots, id, now)
        if not admitted then
          limit_park(key, id, jkey, queue, due, now)
          parked = parked + 1
          if parked >= LIMIT_PARKED_MAX then
            notify(queue)
            break
          end
        end
      end
      if admitted then
        local started = fmt(now)
        redis.call('HSET', jkey, 'status', S_STARTED, 'started_at', started, 'worker_name',
          worker, 'attempts', attempts)
        if has_ttl then
          redis.call('PERSIST', jkey)  -- the ttl only bounds the wait in the queue
          if token and redis.pcall('GET', k_unique(token)) == id then
            redis.call('PERSIST', k_unique(token))  -- and its uniqueness key's (enqueue)
          end
        end
        redis.call('ZADD', k_started(queue), now + lease, id)
        if held then
          redis.call('HSET', wkey, 'state', 'busy', 'current_job', id)
        end
        local more = redis.call('ZCARD', qkey) > 0
        if more then
          notify(queue)  -- more work is waiting: wake the next idle worker
        end
        local n = #flat
        flat[n + 1], flat[n + 2] = 'status', S_STARTED
        flat[n + 3], flat[n + 4] = 'started_at', started
        flat[n + 5], flat[n + 6] = 'worker_name', worker
        flat[n + 7], flat[n + 8] = 'attempts', tostring(attempts)
        return {queue, id, pack_fields(flat), more and 1 or 0}
      end
    end
    if parked >= LIMIT_PARKED_MAX then
      break
    end
  end
  if held and held ~= '' then
    redis.call('HSET', wkey, 'state', 'idle', 'current_job', '')
  end
  return false
end
