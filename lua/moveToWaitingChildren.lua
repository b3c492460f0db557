-- moveToWaitingChildren: a handler parks its active job until its children
-- have finished (PROTOCOL.md 4.1, job.moveToWaitingChildren). The job leaves
-- active only if it still has a child to wait for; its attempts are not
-- counted.
-- KEYS: 1 active, 2 waiting-children, 3 job key, 4 job :dependencies,
--       5 job :unsuccessful, 6 stalled, 7 events
-- ARGV: 1 token, 2 child key to wait for ("" = any pending child), 3 now (ms),
--       4 jobId
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
