-- What removing a job deletes besides its ids in the states (docs/bull.md §6): the debounce key
-- it owns (when `withDebounce`), its hash and logs, and its entry in the rate limiter's put-off
-- set and index.
local function removeJobData(base, jobKey, jobId, limiterIndex, withDebounce)
  if withDebounce then
    local deid = redis.call("HGET", jobKey, "deid")
    if deid then
      redis.call("DEL", base .. "de:" .. deid)
    end
  end
  redis.call("DEL", jobKey, jobKey .. ":logs")
  local limited = redis.call("HGET", limiterIndex, jobId)
  if limited then
    redis.call("SREM", limited, jobId)
    redis.call("HDEL", limiterIndex, jobId)
  end
end
