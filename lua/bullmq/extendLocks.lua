-- extendLocks: renew many job locks at once (docs/bullmq.md §4.9).
-- @key stalled          queue
-- @arg prefix           base
-- @arg tokens           bin     msgpack [token, ...]
-- @arg ids              bin     msgpack [jobId, ...], parallel to tokens
-- @arg duration         int     lock duration (ms)
-- Reply: array of the job ids whose lock could not be renewed.
local rcall = redis.call
local prefix = ARGV[1]
local tokens = cmsgpack.unpack(ARGV[2])
local ids = cmsgpack.unpack(ARGV[3])
local ttl = ARGV[4]
local lost = {}
for i = 1, #ids do
  local id, tok = ids[i], tokens[i]
  local lockKey = prefix .. id .. ":lock"
  if rcall("GET", lockKey) == tok and rcall("SET", lockKey, tok, "PX", ttl) then
    rcall("SREM", KEYS[1], id)
  else
    lost[#lost + 1] = id
  end
end
return lost
