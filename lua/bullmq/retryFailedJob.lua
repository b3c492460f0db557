-- retryFailedJob: a failed job back to wait (or prioritized), as Node's
-- job.retry() (docs/bullmq.md "Admin operations").
-- @key jobKey           key     the job's hash
-- @key failed           queue
-- @key wait             queue
-- @key paused           queue
-- @key active           queue
-- @key meta             queue
-- @key prioritized      queue
-- @key pc               queue
-- @key marker           queue
-- @key events           queue
-- @arg jobId            str
-- Reply: 1 | -1 no job | -3 not failed
--@include core
--@include events
--@include enqueue
--@include admin

local jobKey, jobId = KEYS[1], ARGV[1]
if rcall("EXISTS", jobKey) == 0 then return -1 end
if rcall("ZREM", KEYS[2], jobId) == 0 then return -3 end
rcall("HDEL", jobKey, "finishedOn", "processedOn", "failedReason")
local q = {
  wait = KEYS[3], paused = KEYS[4], active = KEYS[5], meta = KEYS[6],
  prioritized = KEYS[7], pc = KEYS[8], marker = KEYS[9],
}
local gate = readGate(q.meta, q.active)
local f = rcall("HMGET", jobKey, "priority", "opts")
local priority = tonumber(f[1]) or 0
if priority == 0 then
  local ok, o = pcall(cjson.decode, f[2] or "{}")
  local lifo = ok and type(o) == "table" and o.lifo == true
  pushReady(q, gate, lifo and "RPUSH" or "LPUSH", jobId)
else
  addPrioritized(q, gate, priority, jobId)
end
backToParentDeps(jobKey, "failed")
rcall("XADD", KEYS[10], "MAXLEN", "~", eventsCap(q.meta), "*", "event", "waiting",
  "jobId", jobId, "prev", "failed")
return 1
