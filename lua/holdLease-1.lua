-- holdLease: takes, renews or releases a lease with a TTL (the archiver's consumer name), atomic so
-- that only the holder renews or releases it.
-- KEYS[1] string  the lease: its value is the holder's id
-- ARGV[1] msgpack { owner (the caller's id), ttlMs (0 = release) }
-- Reply: { 1 } held by the caller now (taken while free, or renewed) | { 0 } held by another owner
--        | { 2 } released (or it was not the caller's to release: nothing changed)
local a = cmsgpack.unpack(ARGV[1])
local holder = rcall('GET', KEYS[1])
if a.ttlMs == 0 then
  if holder == a.owner then rcall('DEL', KEYS[1]) end
  return { 2 }
end
if holder and holder ~= a.owner then return { 0 } end
rcall('SET', KEYS[1], a.owner, 'PX', a.ttlMs)
return { 1 }
