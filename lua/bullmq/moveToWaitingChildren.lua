-- moveToWaitingChildren: a handler parks its active job until its children
-- have finished (docs/bullmq.md §4.12). The job leaves active only if it still
-- has a child to wait for; its attempts are not counted.
-- @key active           queue
-- @key waitingChildren  queue:waiting-children
-- @key jobKey           key     the job's hash
-- @key depsKey          key     <jobKey>:dependencies
-- @key unsuccessfulKey  key     <jobKey>:unsuccessful
-- @key stalled          queue
-- @key events           queue
-- @arg token            str
-- @arg childKey         str     child key to wait for, or "" for any pending child
-- @arg now              int     now (ms)
-- @arg jobId            str
-- Reply: 0 moved | 1 nothing to wait for (the job stays active) |
--        -1 no job | -2 no lock | -3 not active | -6 lock mismatch |
--        -9 a child failed with failParentOnFailure
--@include core

local jobKey, deps, jobId = KEYS[3], KEYS[4], ARGV[4]

if rcall("EXISTS", jobKey) == 0 then return -1 end
if rcall("ZCARD", KEYS[5]) > 0 then return -9 end

local pending
if ARGV[2] == "" then
  pending = rcall("SCARD", deps) > 0
else
  pending = rcall("SISMEMBER", deps, ARGV[2]) == 1
end
if not pending then return 1 end

local rc = releaseJobLock(jobKey, KEYS[6], ARGV[1], jobId)
if rc < 0 then return rc end
if rcall("LREM", KEYS[1], -1, jobId) < 1 then return -3 end

rcall("ZADD", KEYS[2], tonumber(ARGV[3]), jobId)
rcall("XADD", KEYS[7], "*", "event", "waiting-children", "jobId", jobId, "prev", "active")
return 0
