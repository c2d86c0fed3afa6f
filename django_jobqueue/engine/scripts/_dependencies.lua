-- Dependencies: a job enqueued with depends_on waits (deferred) until every job it depends on
-- has finished, or, with allow_dependency_failures = '1' (Dependency(allow_failure=True)),
-- has ended (finished, failed, stopped or canceled). A dependency saved but never enqueued,
-- queued or running is not met. Each deferred job keeps the ids it still waits for
-- (`dependencies_pending`), so a dependency that finished and then expired stays met.
-- Without allow_failure, a dependency that ends without finishing cancels the job (and its
-- own dependents, transitively: end_dependents); requeueing that dependency restores them.

-- Statuses a dependency has ended with without finishing (met only with allow_failure).
local ENDED_BADLY = {[S_FAILED] = 'failed for good', [S_STOPPED] = 'was stopped',
  [S_CANCELED] = 'was canceled'}

-- Register `id` (being enqueued) as waiting for the dependencies that are not met yet.
-- Returns the comma list of those it waits for ('' when every one is met), and the first
-- dependency that ended without finishing when failures are not allowed (false if none):
-- the job is canceled at once (see enqueue.lua).
local function wait_for(id, deps, allow_failure)
  local pending, blocker = {}, false
  for dep in string.gmatch(deps, '[^,]+') do
    local djkey = k_job(dep)
    local status = redis.call('HGET', djkey, 'status')
    local bad = ENDED_BADLY[status or '']
    if status ~= S_FINISHED and not (bad and allow_failure) then
      if bad and not blocker then
        blocker = dep
      end
      pending[#pending + 1] = dep
      redis.call('SADD', k_dependents(dep), id)
      redis.call('HSET', djkey, 'has_dependents', '1')
    end
  end
  return table.concat(pending, ','), blocker
end

-- The fields of a deferred dependent that deciding its fate reads.
local DEPENDENT_FIELDS = {'status', 'dependencies_pending', 'origin', 'due_at',
  'allow_dependency_failures', 'enqueue_at_front', 'failure_ttl', 'unique_key',
  'canceled_by', 'ttl', 'group'}

-- The members of a set, or of a job's fields: {} / false when the key is corrupt (not a
-- set / hash), so that one bad key never makes a parent's step fail half-way.
local function members_of(key)
  local m = redis.pcall('SMEMBERS', key)
  if type(m) ~= 'table' or m.err then
    return {}
  end
  return m
end

local function fields_of(jkey, names)
  local f = redis.pcall('HMGET', jkey, unpack(names))
  if type(f) ~= 'table' or f.err then
    return false
  end
  return f
end

-- Whether `id` is one of the comma list `list`.
local function listed(list, id)
  for other in string.gmatch(list or '', '[^,]+') do
    if other == id then
      return true
    end
  end
  return false
end

-- The comma list `list` without `id`.
local function unlisted(list, id)
  local left = {}
  for other in string.gmatch(list or '', '[^,]+') do
    if other ~= id then
      left[#left + 1] = other
    end
  end
  return table.concat(left, ',')
end

-- Whether a dependent can be moved between these sorted-set keys: each is one or does not
-- exist (a wrong-type key, or a dependent without its queue, is skipped: left as it is).
local function movable(origin, ...)
  if not origin or origin == '' then
    return false
  end
  for _, key in ipairs({...}) do
    local kind = redis.call('TYPE', key)
    kind = type(kind) == 'table' and kind.ok or kind
    if kind ~= 'zset' and kind ~= 'none' then
      return false
    end
  end
  return true
end

-- Deferred job `dep` (its DEPENDENT_FIELDS in f) stops waiting for `id`, and goes to its
-- queue (its front with enqueue_at_front) when it waits for nothing more, or to scheduled
-- when it was enqueued for a later time. A corrupt one (no queue, a wrong-type key) stays.
local function release_one(dep, id, f, now)
  local djkey = k_job(dep)
  local left = unlisted(f[2], id)
  if left == '' then
    local due = tonumber(f[4])
    local later = due and due > now  -- enqueue_at/enqueue_in with depends_on: its time
    if not movable(f[3], k_deferred(f[3] or ''),
                   later and k_scheduled(f[3] or '') or k_queue(f[3] or '')) then
      return
    end
    redis.call('HDEL', djkey, 'dependencies_pending', 'due_at')
    redis.call('ZREM', k_deferred(f[3]), dep)
    if later then
      redis.call('HSET', djkey, 'status', S_SCHEDULED)
      redis.call('ZADD', k_scheduled(f[3]), due, dep)
    else
      push_to_queue(f[3], dep, djkey, f[6] == '1', now)
    end
  else
    redis.call('HSET', djkey, 'dependencies_pending', left)
  end
end

-- `id` finished: each deferred job waiting on it stops waiting for it (release_one), and
-- so does each one canceled meanwhile (by another parent), so that its restore waits only
-- for what is really pending. A member that does not wait for `id` is ignored.
local function release_dependents(id, now)
  local dkey = k_dependents(id)
  for _, dep in ipairs(members_of(dkey)) do
    local f = fields_of(k_job(dep), DEPENDENT_FIELDS)
    if f and listed(f[2], id) then
      if f[1] == S_DEFERRED then
        release_one(dep, id, f, now)
      elseif f[1] == S_CANCELED then
        redis.call('HSET', k_job(dep), 'dependencies_pending', unlisted(f[2], id))
      end
    end
  end
  redis.call('DEL', dkey)
end

-- How many dependents one step visits at most, when it cancels or restores them (a
-- bounded walk: a step must not block Redis for long). Past it the rest stay as they are
-- (deferred, or canceled) and the walk's reply says so.
local DEPENDENTS_WALK_LIMIT = 10000

-- `root` ended without finishing (`why`: 'failed for good' | 'was stopped' | 'was canceled'): each
-- deferred dependent that allows failures stops waiting for it (release_one); every other
-- one is canceled, with `canceled_reason` naming `root` and `canceled_by` its own parent
-- (so that requeueing the parent restores it), and so are its dependents, transitively
-- (a canceled dependent is a parent that ended without finishing). Each canceled job
-- leaves the deferred registry for the canceled one of its queue, and a unique one frees
-- its key. A parent's dependents set is kept while it names a job it canceled. A member
-- that does not wait for its parent (a stale one) leaves the set; a corrupt one stays.
-- Returns the number of jobs canceled, and true when the walk stopped at its limit.
local function end_dependents(root, why, now)
  local frontier, seen, canceled, visited = {root}, {[root] = true}, 0, 0
  local i = 1
  while i <= #frontier do
    local parent = frontier[i]
    i = i + 1
    local dkey = k_dependents(parent)
    local keep = false
    for _, dep in ipairs(members_of(dkey)) do
      if visited >= DEPENDENTS_WALK_LIMIT then
        return canceled, true
      end
      visited = visited + 1
      local djkey = k_job(dep)
      local f = fields_of(djkey, DEPENDENT_FIELDS) or {}
      local waits = listed(f[2], parent)
      if f[1] == S_DEFERRED and waits and f[5] == '1' then
        release_one(dep, parent, f, now)
        redis.call('SREM', dkey, dep)
      elseif f[1] == S_DEFERRED and waits and not seen[dep] then
        if movable(f[3], k_deferred(f[3] or ''), k_canceled(f[3] or '')) then
          seen[dep] = true
          local reason = 'dependency ' .. root .. ' ' .. why
          if parent ~= root then
            reason = reason .. ' (through ' .. parent .. ')'
          end
          local ttl = failure_ttl_of(f[7])
          redis.call('ZREM', k_deferred(f[3]), dep)
          redis.call('HSET', djkey, 'status', S_CANCELED, 'ended_at', fmt(now),
            'canceled_reason', reason, 'canceled_by', parent)
          redis.call('ZADD', k_canceled(f[3]), expiry_score(now, ttl), dep)
          expire_job(dep, ttl)
          release_unique(f[8], dep, 0)
          group_move(f[11], S_DEFERRED, S_CANCELED, now)
          canceled = canceled + 1
          frontier[#frontier + 1] = dep
        end
        keep = true
      elseif (f[1] == S_CANCELED or f[1] == S_DEFERRED) and waits then
        keep = true  -- canceled already: kept, a restore may need it to wait for this one
      else
        redis.call('SREM', dkey, dep)  -- gone, or not waiting for it any more
      end
    end
    if not keep then
      redis.call('DEL', dkey)
    end
  end
  return canceled, false
end

-- A job's status, or false when it is missing or corrupt.
local function status_of(id)
  local status = redis.pcall('HGET', k_job(id), 'status')
  return type(status) == 'string' and status
end

-- `root` was requeued: the dependents that its end canceled (`canceled_by` = root) go back
-- to deferred, waiting for what is still pending (released at once when nothing is), and
-- so do theirs, transitively; a dependent an operator canceled stays canceled, and one
-- that also waits for another parent that ended without finishing stays canceled, by that
-- one now (its requeue restores it). A unique one whose key another job holds now stays
-- canceled (with that reason); otherwise it takes its key again. A restored job gets its
-- own ttl back (a cancel had bounded it by its failure_ttl). A corrupt one stays.
-- Returns the number restored, and true when the walk stopped at its limit.
local function restore_dependents(root, now)
  local frontier, restored, visited = {root}, 0, 0
  local i = 1
  while i <= #frontier do
    local parent = frontier[i]
    i = i + 1
    for _, dep in ipairs(members_of(k_dependents(parent))) do
      if visited >= DEPENDENTS_WALK_LIMIT then
        return restored, true
      end
      visited = visited + 1
      local djkey = k_job(dep)
      local f = fields_of(djkey, DEPENDENT_FIELDS) or {}
      local mine = f[1] == S_CANCELED and f[9] == parent
      local blocker = false  -- another parent it waits for that ended without finishing
      local pending = {}
      if mine then
        for other in string.gmatch(f[2] or '', '[^,]+') do
          local status = other ~= parent and status_of(other)
          local why = status and ENDED_BADLY[status]
          if why and not blocker then
            blocker = other
            redis.call('HSET', djkey, 'canceled_by', other, 'canceled_reason',
              'dependency ' .. other .. ' ' .. why)
          end
          if status ~= S_FINISHED then
            pending[#pending + 1] = other
          end
        end
      end
      local holder = false
      if mine and not blocker and f[8] then
        holder = unique_holder(f[8], now)
        if holder == dep then
          holder = false
        elseif holder then
          redis.call('HSET', djkey, 'canceled_reason', 'its unique key is taken by ' .. holder)
          redis.call('HDEL', djkey, 'canceled_by')
        end
      end
      if mine and not blocker and not holder
          and movable(f[3], k_canceled(f[3] or ''), k_deferred(f[3] or '')) then
        redis.call('ZREM', k_canceled(f[3]), dep)
        redis.call('HDEL', djkey, 'canceled_reason', 'canceled_by', 'ended_at')
        redis.call('HSET', djkey, 'status', S_DEFERRED, 'dependencies_pending',
          table.concat(pending, ','))
        local ttl = tonumber(f[10])
        if ttl and ttl > 0 then
          redis.call('EXPIRE', djkey, ttl)
        else
          redis.call('PERSIST', djkey)
        end
        redis.call('ZADD', k_deferred(f[3]), now, dep)
        if f[8] then
          if ttl and ttl > 0 then
            redis.call('SET', k_unique(f[8]), dep, 'EX', ttl)
          else
            redis.call('SET', k_unique(f[8]), dep)
          end
        end
        group_move(f[11], S_CANCELED, S_DEFERRED, now)
        if #pending == 0 then  -- nothing left to wait for: released now
          f[2] = ''
          release_one(dep, '', f, now)
        end
        restored = restored + 1
        frontier[#frontier + 1] = dep
      end
    end
  end
  return restored, false
end
