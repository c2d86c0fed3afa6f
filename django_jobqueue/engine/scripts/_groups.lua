-- Groups (groups.py): a group's hash counts its jobs (`total`, `pending`: not ended yet, and
-- one `n_<status>` per way of ending: finished, failed, stopped, canceled, deleted). Every
-- script that moves a job of a group calls group_move in the same step, so the step that
-- ends the group's last job is the one that enqueues its callbacks: exactly once, however
-- many workers finish jobs at the same moment.

-- The statuses a job of a group has ended with ('deleted': deleted before it ended).
local GROUP_ENDED = {[S_FINISHED] = true, [S_FAILED] = true, [S_STOPPED] = true,
  [S_CANCELED] = true, deleted = true}

-- The group's last job ended: each of its callback jobs that applies (on_complete always,
-- on_success when every job finished, on_failure otherwise) is written from the packed
-- fields Group.create stored and put on the group's queue; then the group expires after
-- its ttl (its jobs keep their own).
local function complete_group(gkey, group, now)
  local f = redis.call('HMGET', gkey, 'queue', 'total', 'n_finished', 'ttl')
  local queue = f[1] or 'default'
  local kinds = {'on_complete'}
  if tonumber(f[3]) == tonumber(f[2]) then
    kinds[2] = 'on_success'
  else
    kinds[2] = 'on_failure'
  end
  redis.call('HSET', gkey, 'completed_at', fmt(now))
  for _, kind in ipairs(kinds) do
    local packed = redis.call('HGET', gkey, 'cb_' .. kind)
    if packed then
      local fields = unpack_fields(packed)
      local id = table.remove(fields, 1)
      local jkey = k_job(id)
      redis.call('DEL', jkey)
      redis.call('HSET', jkey, 'origin', queue, 'created_at', fmt(now), unpack(fields))
      push_to_queue(queue, id, jkey, false, now)
    end
  end
  local ttl = tonumber(f[4])
  if ttl and ttl > 0 then
    redis.call('EXPIRE', gkey, ttl)
    redis.call('EXPIRE', k_group_jobs(group), ttl)
  end
end

-- A job of `group` moved from status `old` to `new` (false / nil: it did not exist, or
-- leaves for good unended: 'deleted'). A move into an ended status counts it ended (the
-- group completes when none is pending); a move out of one (a requeue, a restored
-- dependent) makes it pending again. A group that completed does not complete again: its
-- callbacks ran, once. A group that is gone (expired, deleted) or corrupt is left alone.
local function group_move(group, old, new, now)
  if not group or group == '' then
    return
  end
  local gkey = k_group(group)
  if redis.call('TYPE', gkey).ok ~= 'hash' then
    return
  end
  local was, is = GROUP_ENDED[old or ''], GROUP_ENDED[new or '']
  if was then
    redis.call('HINCRBY', gkey, 'n_' .. old, -1)
  end
  if is then
    redis.call('HINCRBY', gkey, 'n_' .. new, 1)
  end
  if was and not is then
    redis.call('HINCRBY', gkey, 'pending', 1)
  elseif is and not was then
    local left = redis.call('HINCRBY', gkey, 'pending', -1)
    if left <= 0 and not redis.call('HGET', gkey, 'completed_at') then
      complete_group(gkey, group, now)
    end
  end
end

-- Why a job cannot join `group` now ('missing-group' | 'group-completed'), or false.
local function group_refuses(group)
  local f = redis.pcall('HMGET', k_group(group), 'created_at', 'completed_at')
  if type(f) ~= 'table' or f.err or not f[1] then
    return 'missing-group'
  end
  if f[2] then
    return 'group-completed'
  end
  return false
end

-- A job joined `group` with status `status` (an enqueue): counted, listed in enqueue order,
-- and the group's callbacks go to this queue unless an earlier job named another.
local function group_join(group, id, queue, status, now)
  local gkey = k_group(group)
  local n = redis.call('HINCRBY', gkey, 'total', 1)
  redis.call('HINCRBY', gkey, 'pending', 1)
  redis.call('HSETNX', gkey, 'queue', queue)
  redis.call('ZADD', k_group_jobs(group), n, id)
  if GROUP_ENDED[status] then
    group_move(group, nil, status, now)
  end
end
