-- moveJobFromActiveToWait: give an active job back to the queue without
-- counting an attempt (a handler that hit a rate limit), docs/bullmq.md §4.11.
-- @key active           queue
-- @key wait             queue
-- @key stalled          queue
-- @key paused           queue
-- @key meta             queue
-- @key limiter          queue
-- @key prioritized      queue
-- @key marker           queue
-- @key events           queue
-- @arg jobId            str
-- @arg token            str
-- @arg jobKey           str     the job's hash key
-- Reply: the limiter's remaining ms (0 when not limited) |
--        -1 no job | -2 no lock | -6 lock mismatch
--@include core
--@include events
--@include gate
--@include enqueue

local jobId, jobKey = ARGV[1], ARGV[3]
local q = {
  active = KEYS[1], wait = KEYS[2], paused = KEYS[4], meta = KEYS[5],
  prioritized = KEYS[7], marker = KEYS[8], events = KEYS[9],
}

if rcall("EXISTS", jobKey) == 0 then return -1 end
local rc = releaseJobLock(jobKey, KEYS[3], ARGV[2], jobId)
if rc < 0 then return rc end

if rcall("LREM", q.active, 1, jobId) > 0 then
  local gate = readGate(q.meta, q.active) -- one fewer active job now
  local priority = tonumber(rcall("HGET", jobKey, "priority")) or 0
  if priority > 0 then
    -- Ahead of every job of the same priority; no marker, as upstream.
    rcall("ZADD", q.prioritized, priority * 0x100000000, jobId)
  else
    pushReady(q, gate, "RPUSH", jobId)
  end
  rcall("XADD", q.events, "MAXLEN", "~", eventsCap(q.meta), "*", "event", "waiting",
    "jobId", jobId, "prev", "active")
end

local ttl = rcall("PTTL", KEYS[6])
if ttl > 0 then return ttl end
return 0
