-- Dependencies: a job enqueued with depends_on waits (deferred) until every job it depends on
-- has finished. Only `finished` counts: a dependency saved but never enqueued, queued,
-- running or failed is not met. Each deferred job keeps the ids it still waits for
-- (`dependencies_pending`), so a dependency that finished and then expired stays met.

-- Register `id` (being enqueued) as waiting for the dependencies that are not finished yet.
-- Returns the comma list of those it waits for ('' when every one has finished).
local function wait_for(id, deps)
  local pending = {}
  for dep in string.gmatch(deps, '[^,]+') do
    local djkey = k_job(dep)
    if redis.call('HGET', djkey, 'status') ~= S_FINISHED then
      pending[#pending + 1] = dep
      redis.call('SADD', k_dependents(dep), id)
      redis.call('HSET', djkey, 'has_dependents', '1')
    end
  end
  return table.concat(pending, ',')
end

-- `id` finished: each deferred job waiting on it stops waiting for it, and goes to its queue
-- when it waits for nothing more (or to scheduled, when it was enqueued for a later time).
local function release_dependents(id, now)
  local dkey = k_dependents(id)
  for _, dep in ipairs(redis.call('SMEMBERS', dkey)) do
    local djkey = k_job(dep)
    local f = redis.call('HMGET', djkey, 'status', 'dependencies_pending', 'origin', 'due_at')
    if f[1] == S_DEFERRED then
      local left = {}
      for other in string.gmatch(f[2] or '', '[^,]+') do
        if other ~= id then
          left[#left + 1] = other
        end
      end
      if #left == 0 then
        redis.call('HDEL', djkey, 'dependencies_pending', 'due_at')
        redis.call('ZREM', k_deferred(f[3]), dep)
        local due = tonumber(f[4])
        if due and due > now then  -- enqueue_at/enqueue_in with depends_on: wait for its time
          redis.call('HSET', djkey, 'status', S_SCHEDULED)
          redis.call('ZADD', k_scheduled(f[3]), due, dep)
        else
          push_to_queue(f[3], dep, djkey, false, now)
        end
      else
        redis.call('HSET', djkey, 'dependencies_pending', table.concat(left, ','))
      end
    end
  end
  redis.call('DEL', dkey)
end
