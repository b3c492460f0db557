-- getState: a job's state named as Node Bull's job.getState() names it (docs/bull.md §3).
-- @key completed        queue
-- @key failed           queue
-- @key delayed          queue
-- @key active           queue
-- @key wait             queue
-- @key paused           queue
-- @arg prefix           base
-- @arg jobId            str
-- Reply: "completed" | "failed" | "delayed" | "active" | "waiting" | "paused" | "stuck" |
--        "unknown" (no such job)
local id = ARGV[2]
local sets = { { KEYS[1], "completed" }, { KEYS[2], "failed" }, { KEYS[3], "delayed" } }
for _, s in ipairs(sets) do
  if redis.call("ZSCORE", s[1], id) then
    return s[2]
  end
end
local lists = { { KEYS[4], "active" }, { KEYS[5], "waiting" }, { KEYS[6], "paused" } }
for _, l in ipairs(lists) do
  for _, member in ipairs(redis.call("LRANGE", l[1], 0, -1)) do
    if member == id then
      return l[2]
    end
  end
end
if redis.call("EXISTS", ARGV[1] .. id) == 1 then
  return "stuck"
end
return "unknown"
