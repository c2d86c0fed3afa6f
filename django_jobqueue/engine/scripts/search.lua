-- Find jobs of a queue or registry whose id or function name contains a string, scanning a
-- bounded slice (so a search of a million jobs never holds Redis for long). In registries
-- scored by expiry time, entries past it are skipped, as in page.lua.
-- ARGV: prefix, queue, where ('queue' or a registry kind), needle, start offset, slice size,
--       newest first ('1' or ''), most matches wanted, expiring ('1' or '').
-- Returns {offset where the next slice starts (-1 at the end), size of the set, ids...}.
local queue, where, needle = ARGV[2], ARGV[3], ARGV[4]
local start, slice, desc, wanted = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1', tonumber(ARGV[8])
local key = tab_key(queue, where)
local expired = expired_count(key, ARGV[9] == '1')
local total = redis.call('ZCARD', key) - expired
local out = {-1, total}
if start >= total then
  return out
end
local last = math.min(start + slice, total) - 1
local ids
if desc then
  ids = redis.call('ZREVRANGE', key, start, last)
else
  ids = redis.call('ZRANGE', key, expired + start, expired + last)
end
for n, id in ipairs(ids) do
  local func = redis.call('HGET', k_job(id), 'func_name') or ''
  if string.find(id, needle, 1, true) or string.find(func, needle, 1, true) then
    out[#out + 1] = id
    if #out - 2 >= wanted then
      if start + n < total then
        out[1] = start + n
      end
      return out
    end
  end
end
if last + 1 < total then
  out[1] = last + 1
end
return out
