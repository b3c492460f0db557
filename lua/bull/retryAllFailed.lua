-- retryAllFailed: one round of Node Bull's queue.retryJobs() (docs/bull.md §6): the `count`
-- oldest failed jobs lose finishedOn, processedOn and failedReason and are pushed on the left
-- of the ready list, oldest first. Nothing is published.
-- @key failed           queue
-- @key wait             queue
-- @key metaPaused       queue:meta-paused
-- @key paused           queue
-- @arg prefix           base
-- @arg count            int     jobs per round
-- Reply: how many were moved (a full round: call again)
--@include push

local ids = redis.call("ZRANGE", KEYS[1], 0, tonumber(ARGV[2]) - 1)
if #ids == 0 then
  return 0
end
for _, id in ipairs(ids) do
  redis.call("HDEL", ARGV[1] .. id, "finishedOn", "processedOn", "failedReason")
end
local list = readyList(KEYS[3], KEYS[2], KEYS[4])
for first = 1, #ids, 5000 do
  local last = math.min(first + 4999, #ids)
  redis.call("ZREM", KEYS[1], unpack(ids, first, last))
  redis.call("LPUSH", list, unpack(ids, first, last))
end
return #ids
