-- Definitions shared by the scripts. The loader puts before each script only the definitions
-- it uses (see scripts.py: a definition is a top-level `local` with the comment just above
-- it). The state machine's constants (S_QUEUED, ...) and the key builders (k_queue, ...) are
-- generated from states.py and keys.py. ARGV[1] is always the key prefix.

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
  local priority = tonumber(redis.call('HGET', jkey, 'priority'))
  if not priority or priority ~= priority or priority < -100 or priority > 100 then
    priority = 0  -- a corrupt priority must not make the move fail half-way
  end
  local seq = redis.call('INCR', k_seq())
  redis.call('ZADD', k_queue(queue), score_for(priority, at_front, seq), id)
  redis.call('HSET', jkey, 'status', S_QUEUED, 'enqueued_at', fmt(now))
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

-- Unique jobs (uniqueness.py): a job's `unique_for` as whole seconds for EXPIRE (0 when
-- absent or corrupt, never more than EXPIRE takes).
local function unique_window(value)
  local seconds = tonumber(value)
  if not seconds or seconds ~= seconds or seconds < 1 then
    return 0
  end
  return math.min(math.floor(seconds), 2147483647)
end

-- The job holding uniqueness token `token`, when that still counts: the job its key names,
-- if that job carries the same token and is queued, scheduled, deferred or running, or
-- finished less than its unique_for ago. Returns its id, or false: the key is free (absent,
-- corrupt, or naming a job that ended, is gone or was replaced under the same id).
local function unique_holder(token, now)
  local holder = redis.pcall('GET', k_unique(token))
  if type(holder) ~= 'string' then
    return false
  end
  local f = redis.pcall('HMGET', k_job(holder), 'status', 'unique_key', 'ended_at',
    'unique_for')
  if type(f) ~= 'table' or f.err or f[2] ~= token then  -- a corrupt holder: the key is free
    return false
  end
  if ACTIVE[f[1]] then
    return holder
  end
  local ended = tonumber(f[3])
  if f[1] == S_FINISHED and ended and ended + unique_window(f[4]) > now then
    return holder
  end
  return false
end

-- A unique job ended (`token` false or '' for one that is not unique: nothing to do): its
-- uniqueness key is deleted, or kept `keep` more seconds, only while it still names this
-- job (another job may hold it now).
local function release_unique(token, id, keep)
  if not token or token == '' then
    return
  end
  local ukey = k_unique(token)
  if redis.pcall('GET', ukey) == id then
    if keep > 0 then
      redis.call('EXPIRE', ukey, keep)
    else
      redis.call('DEL', ukey)
    end
  end
end
