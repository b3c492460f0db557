-- promoteJob: a delayed job ready now, as Node's job.promote()
-- (docs/bullmq.md "Admin operations").
-- @key delayed          queue
-- @key wait             queue
-- @key paused           queue
-- @key active           queue
-- @key meta             queue
-- @key prioritized      queue
-- @key pc               queue
-- @key marker           queue
-- @key events           queue
-- @arg prefix           base
-- @arg jobId            str
-- Reply: 0 | -3 not delayed
--@include core
--@include enqueue

local jobId = ARGV[2]
if rcall("ZREM", KEYS[1], jobId) == 0 then return -3 end
local jobKey = ARGV[1] .. jobId
local q = {
  wait = KEYS[2], paused = KEYS[3], active = KEYS[4], meta = KEYS[5],
  prioritized = KEYS[6], pc = KEYS[7], marker = KEYS[8],
}
local gate = readGate(q.meta, q.active)
local priority = tonumber(rcall("HGET", jobKey, "priority")) or 0
local head = rcall("LINDEX", q.wait, 0)
if head and isLegacyMarkerId(head) then rcall("LPOP", q.wait) end
if priority == 0 then
  pushReady(q, gate, "LPUSH", jobId)
else
  addPrioritized(q, gate, priority, jobId)
end
rcall("XADD", KEYS[9], "*", "event", "waiting", "jobId", jobId, "prev", "delayed")
rcall("HSET", jobKey, "delay", 0)
return 0
