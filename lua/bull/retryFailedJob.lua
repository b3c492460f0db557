-- retryFailedJob: a failed job made ready again, as Node Bull's job.retry() (docs/bull.md §6).
-- An unlocked job first loses finishedOn, processedOn and failedReason and gets retriedOn,
-- whether or not it is failed (Bull writes them before it looks); a failed one then leaves
-- `failed` for the ready list (left end, right end for opts.lifo; priority is not looked at)
-- and is announced on K:waiting@T.
-- @key jobKey           key     the job's hash
-- @key failed           queue
-- @key wait             queue
-- @key metaPaused       queue:meta-paused
-- @key paused           queue
-- @arg jobId            str
-- @arg token            str     the queue handle's token (channel suffix)
-- @arg now              int     becomes retriedOn
-- Reply: 1 | 0 no job | -1 locked | -2 not failed
--@include push

local jobKey, jobId = KEYS[1], ARGV[1]
if redis.call("EXISTS", jobKey) == 0 then
  return 0
end
if redis.call("EXISTS", jobKey .. ":lock") == 1 then
  return -1
end
redis.call("HDEL", jobKey, "finishedOn", "processedOn", "failedReason")
redis.call("HSET", jobKey, "retriedOn", ARGV[3])
if redis.call("ZREM", KEYS[2], jobId) == 0 then
  return -2
end
-- opts.lifo as JavaScript tests it
local ok, opts = pcall(cjson.decode, redis.call("HGET", jobKey, "opts") or "{}")
local lifo = ok and type(opts) == "table" and opts.lifo
local push = "LPUSH"
if lifo and lifo ~= 0 and lifo ~= "" and lifo ~= cjson.null then
  push = "RPUSH"
end
redis.call(push, readyList(KEYS[4], KEYS[3], KEYS[5]), jobId)
redis.call("PUBLISH", KEYS[3] .. "ing@" .. ARGV[2], jobId)
return 1
