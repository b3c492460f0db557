-- The job a take works on (docs/bull.md §4.2): the id the blocking wait already moved to active
-- (jobId), or with jobId "" the next waiting one, moved to active here. Returns the id, or nil
-- after publishing on `drained` when nothing was waiting. stalledKey as releaseLock's.
local function claimJob(waitKey, activeKey, stalledKey, base, jobId)
  if jobId ~= "" then
    if stalledKey then
      redis.call("SREM", stalledKey, jobId)
    end
    return jobId
  end
  jobId = redis.call("RPOPLPUSH", waitKey, activeKey)
  if not jobId then
    redis.call("PUBLISH", base .. "drained", "")
  end
  return jobId
end
