-- emptyQueue: Node Bull's queue.empty() (docs/bull.md §6): the jobs of wait and paused are
-- deleted (hashes only: their logs stay), and the keys wait, paused, meta-paused (the queue is
-- no longer paused, though meta's `paused` field stays), delayed (its jobs' hashes stay),
-- priority, limiter, limiter:index and every K:*:limited set. Nothing is published.
-- @key wait             queue
-- @key paused           queue
-- @key metaPaused       queue:meta-paused
-- @key delayed          queue
-- @key priority         queue
-- @key limiter          queue
-- @key limiterIndex     queue:limiter:index
-- @arg prefix           base
-- Reply: how many jobs were deleted

local base = ARGV[1]
local gone = redis.call("LRANGE", KEYS[2], 0, -1)
for _, id in ipairs(redis.call("LRANGE", KEYS[1], 0, -1)) do
  gone[#gone + 1] = id
end
local limited = redis.call("KEYS", base .. "*:limited")
redis.call("DEL", KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
for first = 1, #gone, 5000 do
  local keys = {}
  for i = first, math.min(first + 4999, #gone) do
    keys[#keys + 1] = base .. gone[i]
  end
  redis.call("DEL", unpack(keys))
end
for first = 1, #limited, 5000 do
  redis.call("DEL", unpack(limited, first, math.min(first + 4999, #limited)))
end
return #gone
