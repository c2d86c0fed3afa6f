-- Rate and concurrency limits (limits.py), checked when a worker takes a job (take_next). A
-- job's `limit_key` names its limit, `limit_rate` is '<starts>/<seconds>' and
-- `limit_concurrency` the number of jobs that may run at once. Rate: a sliding window log
-- (the starts of the last `seconds`, one sorted set per key), so that no window of that
-- length ever holds more starts than allowed. Concurrency: the set of jobs holding a slot,
-- freed by the step that takes the job out of the started registry (finish, fail, recover:
-- a worker that died frees its slots with its leases). A job over its limit does not start
-- (no attempt is counted): it waits in its queue's scheduled registry, listed in the key's
-- waiting set, and the take goes on with the queue's next job.

-- How long a job waiting for a concurrency slot waits at most before it is tried again: a
-- slot freed by a finish, failure or recovery wakes a waiter at once (limit_free); this
-- bounds the wait when a slot frees some other way (its running job deleted).
local LIMIT_RECHECK = 30

-- The limit fields of a job's flat HGETALL reply: key (false: none), starts and seconds
-- of its rate (nil: none), its concurrency (nil: none). Corrupt values count as no limit:
-- the job runs rather than waiting forever.
local function limit_of(flat)
  local key, rate, slots = false, nil, nil
  for i = 1, #flat, 2 do
    local name = flat[i]
    if name == 'limit_key' then
      key = flat[i + 1]
    elseif name == 'limit_rate' then
      rate = flat[i + 1]
    elseif name == 'limit_concurrency' then
      slots = tonumber(flat[i + 1])
    end
  end
  local count, period = nil, nil
  if rate then
    local c, p = string.match(rate, '^(%d+)/([%d%.]+)$')
    count, period = tonumber(c), tonumber(p)
    if not count or not period or count < 1 or period <= 0 then
      count, period = nil, nil
    end
  end
  if slots and (slots ~= slots or slots < 1) then
    slots = nil
  end
  return key, count, period, slots
end

-- May job `id` start now under limit `key` (`count` starts per `period` seconds; `slots`
-- running at once)? When it may, its start is counted and its slot taken, in this step.
-- When not, returns false and when to try it again: for a rate, when the window has room
-- for it behind the jobs already waiting on the key (one window's worth of them per
-- period); for a slot, LIMIT_RECHECK from now (a freed slot wakes it sooner).
local function limit_admit(key, count, period, slots, id, now)
  local rkey = k_limit_running(key)
  if slots and redis.call('SCARD', rkey) >= slots then
    for _, holder in ipairs(redis.call('SMEMBERS', rkey)) do
      if redis.call('HGET', k_job(holder), 'status') ~= S_STARTED then
        redis.call('SREM', rkey, holder)  -- a slot whose job no longer runs (deleted)
      end
    end
    if redis.call('SCARD', rkey) >= slots then
      return false, now + LIMIT_RECHECK
    end
  end
  if count then
    local skey = k_limit_starts(key)
    redis.call('ZREMRANGEBYSCORE', skey, '-inf', now - period)
    if redis.call('ZCARD', skey) >= count then
      local waiting = redis.call('ZCARD', k_limit_waiting(key))
      local nth = redis.call('ZRANGE', skey, waiting % count, waiting % count, 'WITHSCORES')
      local frees = tonumber(nth[2]) or now
      return false, frees + period * (1 + math.floor(waiting / count))
    end
    redis.call('ZADD', skey, now, id .. '@' .. fmt(now))
    redis.call('PEXPIRE', skey, math.ceil(period * 1000))
  end
  if slots then
    redis.call('SADD', rkey, id)
  end
  redis.call('ZREM', k_limit_waiting(key), id)
  return true
end

-- Job `id`, taken off `queue`, waits for limit `key` until `due`: in the queue's scheduled
-- registry (status scheduled; schedule.lua puts it back on the queue when due), listed in
-- the key's waiting set. Entries of that set long past their time (their job was canceled
-- or deleted while waiting) leave it here.
local function limit_park(key, id, jkey, queue, due, now)
  local wkey = k_limit_waiting(key)
  redis.call('ZREMRANGEBYSCORE', wkey, '-inf', now - 2 * LIMIT_RECHECK)
  redis.call('ZADD', wkey, due, id)
  redis.call('ZADD', k_scheduled(queue), due, id)
  redis.call('HSET', jkey, 'status', S_SCHEDULED)
end

-- Job `id` left the started registry (finished, failed, stopped, retried or recovered): its
-- concurrency slot under `key` (false: none) is free, and the job waiting longest for one
-- goes back to the front of its queue now. Waiters already back on their queue are
-- skipped; those that are neither queued nor scheduled any more leave the waiting set.
local function limit_free(key, id, now)
  if not key or redis.call('SREM', k_limit_running(key), id) == 0 then
    return
  end
  local wkey = k_limit_waiting(key)
  for _, waiter in ipairs(redis.call('ZRANGE', wkey, 0, 9)) do
    local wjkey = k_job(waiter)
    local f = redis.call('HMGET', wjkey, 'status', 'origin')
    if f[1] == S_SCHEDULED and f[2] and redis.call('ZREM', k_scheduled(f[2]), waiter) == 1 then
      push_to_queue(f[2], waiter, wjkey, true, now)
      return
    elseif f[1] ~= S_QUEUED then
      redis.call('ZREM', wkey, waiter)
    end
  end
end
