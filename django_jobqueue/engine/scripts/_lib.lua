-- Definitions shared by the scripts, one per blank-line-separated block: the loader puts
-- before each script only the blocks it uses (see scripts.py). ARGV[1] is always the prefix.

local function server_time()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local function fmt(ts)
  return string.format('%.6f', ts)
end

-- Lower scores run first: priority 100 before priority -100, FIFO within one priority
-- (a global sequence), and at_front jobs (negative scores) before everything.
local PRIORITY_SPAN = 1000000000000

local function score_for(priority, at_front, seq)
  if at_front then
    return -seq
  end
  return (100 - (priority or 0)) * PRIORITY_SPAN + seq
end

-- Leave one wake-up token for workers blocked on this queue (never more than one).
local function notify(queue)
  local nkey = k_notify(queue)
  if redis.call('LLEN', nkey) == 0 then
    redis.call('RPUSH', nkey, '1')
  end
end

local function push_to_queue(queue, id, jkey, at_front, now)
  local priority = tonumber(redis.call('HGET', jkey, 'priority') or '0')
  local seq = redis.call('INCR', k_seq())
  redis.call('ZADD', k_queue(queue), score_for(priority, at_front, seq), id)
  redis.call('HSET', jkey, 'status', 'queued', 'enqueued_at', fmt(now))
  redis.call('SADD', k_queues(), queue)
  notify(queue)
end

-- A job lives in exactly one of these places; every move starts by leaving all of them.
local function remove_everywhere(queue, id)
  redis.call('ZREM', k_queue(queue), id)
  for _, kind in ipairs(REGISTRY_KINDS) do
    redis.call('ZREM', k_registry(kind, queue), id)
  end
end

local function expiry_score(now, ttl)
  if ttl < 0 then
    return '+inf'
  end
  return now + ttl
end

-- Apply a TTL to a job's hash and results: -1 keeps them, 0 deletes them.
local function expire_job(id, ttl)
  local jkey, rkey = k_job(id), k_results(id)
  if ttl < 0 then
    redis.call('PERSIST', jkey)
    redis.call('PERSIST', rkey)
  elseif ttl == 0 then
    redis.call('DEL', jkey, rkey)
  else
    redis.call('EXPIRE', jkey, ttl)
    redis.call('EXPIRE', rkey, ttl)
  end
end

local function record_result(id, entry, keep)
  if entry ~= '' then
    local rkey = k_results(id)
    if redis.call('LPUSH', rkey, entry) > keep then
      redis.call('LTRIM', rkey, 0, keep - 1)
    end
  end
end

-- Move the deferred jobs waiting on `id` to their queues once all their dependencies finished.
local function release_dependents(id, now)
  local dkey = k_dependents(id)
  for _, dep in ipairs(redis.call('SMEMBERS', dkey)) do
    local djkey = k_job(dep)
    if redis.call('HGET', djkey, 'status') == 'deferred' then
      local ready = true
      local deps = redis.call('HGET', djkey, 'dependency_ids') or ''
      for other in string.gmatch(deps, '[^,]+') do
        if other ~= id then
          local s = redis.call('HGET', k_job(other), 'status')
          if s and s ~= 'finished' then
            ready = false
            break
          end
        end
      end
      if ready then
        local origin = redis.call('HGET', djkey, 'origin')
        redis.call('ZREM', k_deferred(origin), dep)
        push_to_queue(origin, dep, djkey, false, now)
      end
    end
  end
  redis.call('DEL', dkey)
end

-- Is this job running under `worker`? Returns owned, has_dependents. A job whose lease lapsed
-- and that recovery put back on its queue still counts (its worker may record its outcome):
-- it leaves the queue here so that it does not run twice.
local function claim(jkey, id, queue, worker)
  local f = redis.call('HMGET', jkey, 'status', 'worker_name', 'has_dependents')
  if f[2] ~= worker then
    return false, false
  end
  if f[1] == 'started' then
    return true, f[3] == '1'
  end
  if f[1] == 'queued' and redis.call('ZREM', k_queue(queue), id) == 1 then
    return true, f[3] == '1'
  end
  return false, false
end

-- `<len>,<len>,...;<bytes><bytes>...` -> list: a job's fields travel as one argument.
local function unpack_fields(s)
  local sep = string.find(s, ';', 1, true)
  local out, pos = {}, sep + 1
  for len in string.gmatch(string.sub(s, 1, sep - 1), '%d+') do
    local n = tonumber(len)
    out[#out + 1] = string.sub(s, pos, pos + n - 1)
    pos = pos + n
  end
  return out
end

local function pack_fields(list)
  local lens = {}
  for i = 1, #list do
    lens[i] = #list[i]
  end
  return table.concat(lens, ',') .. ';' .. table.concat(list)
end

-- Take the next job for `worker` from the queues named in ARGV[first..] (in priority order)
-- and record it as started by that worker with a lease, all in this one step.
-- Returns {queue, id, packed job hash} or false.
local function take_next(worker, lease, first, now)
  local wkey = k_worker(worker)
  for qi = first, #ARGV do
    local queue = ARGV[qi]
    local qkey = k_queue(queue)
    while true do
      local popped = redis.call('ZPOPMIN', qkey)
      if #popped == 0 then
        break
      end
      local id = popped[1]
      local jkey = k_job(id)
      local flat = redis.call('HGETALL', jkey)
      -- a job whose ttl ran out while queued has no hash any more: dropped, never run
      if #flat > 0 then
        local attempts, has_ttl = 1, false
        for i = 1, #flat, 2 do
          if flat[i] == 'attempts' then
            attempts = tonumber(flat[i + 1]) + 1
          elseif flat[i] == 'ttl' then
            has_ttl = true
          end
        end
        local started = fmt(now)
        redis.call('HSET', jkey, 'status', 'started', 'started_at', started, 'worker_name', worker,
          'attempts', attempts)
        if has_ttl then
          redis.call('PERSIST', jkey)  -- the ttl only bounds the wait in the queue
        end
        redis.call('ZADD', k_started(queue), now + lease, id)
        if redis.call('EXISTS', wkey) == 1 then
          redis.call('HSET', wkey, 'state', 'busy', 'current_job', id)
        end
        if redis.call('ZCARD', qkey) > 0 then
          notify(queue)  -- more work is waiting: wake the next idle worker
        end
        local n = #flat
        flat[n + 1], flat[n + 2] = 'status', 'started'
        flat[n + 3], flat[n + 4] = 'started_at', started
        flat[n + 5], flat[n + 6] = 'worker_name', worker
        flat[n + 7], flat[n + 8] = 'attempts', tostring(attempts)
        return {queue, id, pack_fields(flat)}
      end
    end
  end
  if redis.call('EXISTS', wkey) == 1 then
    redis.call('HSET', wkey, 'state', 'idle', 'current_job', '')
  end
  return false
end

-- The key of one tab of a queue: the queue itself ('queue') or one of its registries.
local function tab_key(queue, where)
  if where == 'queue' then
    return k_queue(queue)
  end
  return k_registry(where, queue)
end

-- Entries of a registry scored by expiry time that are past it (they have the lowest
-- scores, so the live ones are the ranks after them).
local function expired_count(key, expiring)
  if not expiring then
    return 0
  end
  return redis.call('ZCOUNT', key, '-inf', fmt(server_time()))
end
