-- Bring the stored schedules in line with a worker's periodic job definitions (run when a
-- worker or pool starts). A definition whose digest is unchanged keeps its next tick (so a
-- restart never fires a tick twice, nor skips one); a new or changed one starts at the
-- first tick the worker computed; a name not given any more is removed with its record.
-- ARGV: prefix, count, definitions... (five per definition: name, digest, summary (JSON),
--       enabled ('1' or '0'), first tick).
-- Returns {names added or changed..., '--', names removed...}.
local count = tonumber(ARGV[2])
local zkey = k_periodics()
local given, changed = {}, {}
for j = 0, count - 1 do
  local base = 3 + j * 5
  local name, digest, summary = ARGV[base], ARGV[base + 1], ARGV[base + 2]
  local enabled, first = ARGV[base + 3], ARGV[base + 4]
  given[name] = true
  local pkey = k_periodic(name)
  if redis.call('HGET', pkey, 'digest') ~= digest then
    redis.call('HSET', pkey, 'digest', digest, 'summary', summary, 'enabled', enabled)
    redis.call('ZADD', zkey, first, name)
    changed[#changed + 1] = name
  elseif not redis.call('ZSCORE', zkey, name) then
    redis.call('ZADD', zkey, first, name)  -- its schedule entry was lost: start again
  end
end
changed[#changed + 1] = '--'
for _, name in ipairs(redis.call('ZRANGE', zkey, 0, -1)) do
  if not given[name] then
    redis.call('ZREM', zkey, name)
    redis.call('DEL', k_periodic(name))
    changed[#changed + 1] = name
  end
end
return changed
