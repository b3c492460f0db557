-- updateDelaySet: promote the delayed jobs that are due (docs/bull.md §4.7), up to 1000 per
-- call; each goes to the far end of the ready list (or by its priority) and is announced on
-- waiting@<token>. The next due time is announced on the delayed channel.
-- @key delayed          queue
-- @key active           queue
-- @key wait             queue
-- @key priority         queue
-- @key paused           queue
-- @key metaPaused       queue:meta-paused
-- @arg prefix           base
-- @arg now              int     now (ms)
-- @arg token            str     the worker's token (waiting@ channel suffix)
-- Reply: the next delayed job's score (due * 4096 + low bits), or 0 when none
--@include push

local base = ARGV[1]
local due = redis.call("ZRANGEBYSCORE", KEYS[1], 0, tonumber(ARGV[2]) * 0x1000, "LIMIT", 0, 1000)
if #due > 0 then
  redis.call("ZREM", KEYS[1], unpack(due))
  local list = readyList(KEYS[6], KEYS[3], KEYS[5])
  for _, jobId in ipairs(due) do
    local jobKey = base .. jobId
    redis.call("LREM", KEYS[2], 0, jobId)
    pushReady(jobKey, KEYS[4], list, "LPUSH", jobId)
    redis.call("PUBLISH", base .. "waiting@" .. ARGV[3], jobId)
    redis.call("HSET", jobKey, "delay", 0)
  end
end
local first = redis.call("ZRANGE", KEYS[1], 0, 0, "WITHSCORES")
if #first > 0 then
  redis.call("PUBLISH", KEYS[1], first[2] / 0x1000)
  return first[2]
end
return 0
