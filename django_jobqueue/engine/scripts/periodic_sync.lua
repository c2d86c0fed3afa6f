-- Store a worker's periodic job definitions. A worker starting ('start') makes its
-- definitions the stored ones; a worker's periodic repair ('repair') only refreshes what it
-- shares with the stored ones, puts back what Redis lost, and takes over a definition that
-- no live worker has confirmed for `stale` seconds (so two deployments that differ do not
-- undo each other every minute). An unchanged definition keeps its next tick (a restart
-- neither repeats nor skips one); a new or replaced one starts at the first tick the worker
-- computed (after its last run). A schedule no worker has confirmed for `stale` seconds is
-- deleted with its record: its definition was removed everywhere.
-- ARGV: prefix, mode ('start' | 'repair'), stale seconds, count, definitions... (five per
--       definition: name, digest, summary (JSON), enabled ('1' or '0'), first tick).
-- Returns {names stored anew..., '--', names removed...}.
local mode, stale, count = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local zkey = k_periodics()
local now = server_time()
local given, changed = {}, {}
for j = 0, count - 1 do
  local base = 5 + j * 5
  local name, digest, summary = ARGV[base], ARGV[base + 1], ARGV[base + 2]
  local enabled, first = ARGV[base + 3], ARGV[base + 4]
  given[name] = true
  local pkey = k_periodic(name)
  local stored = redis.call('HMGET', pkey, 'digest', 'seen_at')
  local seen = tonumber(stored[2]) or 0
  if stored[1] == digest then
    redis.call('HSET', pkey, 'seen_at', fmt(now))
    if not redis.call('ZSCORE', zkey, name) then
      redis.call('ZADD', zkey, first, name)  -- its schedule entry was lost: start again
    end
  elseif mode == 'start' or not stored[1] or seen < now - stale then
    redis.call('HSET', pkey, 'digest', digest, 'summary', summary, 'enabled', enabled,
      'seen_at', fmt(now))
    redis.call('ZADD', zkey, first, name)
    changed[#changed + 1] = name
  end
end
changed[#changed + 1] = '--'
for _, name in ipairs(redis.call('ZRANGE', zkey, 0, -1)) do
  if not given[name] then
    local seen = tonumber(redis.call('HGET', k_periodic(name), 'seen_at')) or 0
    if seen < now - stale then
      redis.call('ZREM', zkey, name)
      redis.call('DEL', k_periodic(name))
      changed[#changed + 1] = name
    end
  end
end
return changed
