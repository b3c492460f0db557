-- promoteJob: a delayed job made ready now, as Node Bull's job.promote() (docs/bull.md §6):
-- it leaves `delayed` for the ready list (left end, or by priority), is announced on
-- K:waiting@T and its `delay` becomes 0. With jobId "", the `count` earliest delayed jobs are
-- promoted so, one after the other (Bull has no promote-all: the loop over getDelayed()).
-- @key delayed          queue
-- @key wait             queue
-- @key paused           queue
-- @key metaPaused       queue:meta-paused
-- @key priority         queue
-- @arg prefix           base
-- @arg jobId            str     the job, or "" for every delayed job (up to count)
-- @arg token            str     the queue handle's token (channel suffix)
-- @arg count            int     with jobId "": jobs per round
-- Reply: one job: 0 | -1 not delayed | -2 no job; all: how many were promoted
--@include push

local function promote(id)
  if redis.call("ZREM", KEYS[1], id) == 0 then
    return false
  end
  local jobKey = ARGV[1] .. id
  pushReady(jobKey, KEYS[5], readyList(KEYS[4], KEYS[2], KEYS[3]), "LPUSH", id)
  redis.call("PUBLISH", KEYS[2] .. "ing@" .. ARGV[3], id)
  redis.call("HSET", jobKey, "delay", 0)
  return true
end

if ARGV[2] ~= "" then
  if redis.call("EXISTS", ARGV[1] .. ARGV[2]) == 0 then
    return -2
  end
  return promote(ARGV[2]) and 0 or -1
end
local ids = redis.call("ZRANGE", KEYS[1], 0, tonumber(ARGV[4]) - 1)
for _, id in ipairs(ids) do
  promote(id)
end
return #ids
