-- One page of a queue or registry by rank, and its size, in one step. In the registries
-- whose scores are expiry times (finished, failed, canceled) entries past their time are
-- neither counted nor shown: they have the lowest scores, so ranks just skip them.
-- ARGV: prefix, queue, where ('queue' or a registry kind), offset, length, newest first
--       ('1' or ''), expiring ('1' or '').
-- Returns {size, ids...}.
local queue, where = ARGV[2], ARGV[3]
local offset, length, desc, expiring = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6] == '1', ARGV[7] == '1'
local key = tab_key(queue, where)
local expired = expired_count(key, expiring)
local live = redis.call('ZCARD', key) - expired
local out = {live}
if offset >= live or length <= 0 then
  return out
end
local last = math.min(offset + length, live) - 1
local ids
if desc then
  ids = redis.call('ZREVRANGE', key, offset, last)
else
  ids = redis.call('ZRANGE', key, expired + offset, expired + last)
end
for _, id in ipairs(ids) do
  out[#out + 1] = id
end
return out
