-- Helpers shared by every script; the loader puts the key prelude and this file first.
-- ARGV[1] is always the key prefix.

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

local function queue_score(priority, at_front)
  local seq = redis.call('INCR', k_seq())
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
  redis.call('ZADD', k_queue(queue), queue_score(priority, at_front), id)
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
    redis.call('LPUSH', rkey, entry)
    redis.call('LTRIM', rkey, 0, keep - 1)
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

-- Is this job running under `worker`? A job whose lease lapsed and that recovery put back
-- on its queue still counts (the worker that ran it may record its outcome): it leaves the
-- queue here so that it does not run twice.
local function owned_by(jkey, id, queue, worker)
  local fields = redis.call('HMGET', jkey, 'status', 'worker_name')
  if fields[2] ~= worker then
    return false
  end
  if fields[1] == 'started' then
    return true
  end
  if fields[1] == 'queued' then
    return redis.call('ZREM', k_queue(queue), id) == 1
  end
  return false
end

local function worker_done(worker, counter, working_time)
  local wkey = k_worker(worker)
  if worker ~= '' and redis.call('EXISTS', wkey) == 1 then
    redis.call('HSET', wkey, 'state', 'idle', 'current_job', '')
    redis.call('HINCRBY', wkey, counter, 1)
    redis.call('HINCRBYFLOAT', wkey, 'total_working_time', working_time)
  end
end
