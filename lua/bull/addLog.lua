-- addLog: append one raw line to a job's log (docs/bull.md §4.8).
-- @key jobKey           key     the job's hash
-- @key logsKey          key     its log list
-- @arg line             str
-- Reply: the log's length | -1 no such job
if redis.call("EXISTS", KEYS[1]) == 0 then
  return -1
end
return redis.call("RPUSH", KEYS[2], ARGV[1])
