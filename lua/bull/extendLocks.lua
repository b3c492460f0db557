-- extendLocks: renew the locks this worker holds (docs/bull.md §4.5), each as its own check:
-- a lock still ours is set again for the full duration and its job leaves the stalled set.
-- @key stalled          queue
-- @arg prefix           base
-- @arg token            str     the worker's lock token
-- @arg lockMs           int     lock duration (ms)
-- @arg ids              bin     msgpack [jobId, ...]
-- Reply: the ids whose lock was no longer ours.
local ids = cmsgpack.unpack(ARGV[4])
local lost = {}
for _, id in ipairs(ids) do
  local lockKey = ARGV[1] .. id .. ":lock"
  if redis.call("GET", lockKey) == ARGV[2] then
    redis.call("SET", lockKey, ARGV[2], "PX", ARGV[3])
    redis.call("SREM", KEYS[1], id)
  else
    lost[#lost + 1] = id
  end
end
return lost
