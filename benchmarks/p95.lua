-- Prints the 95th percentile that wrk's --latency table leaves out (issue 16 sets p95 targets).
done = function(summary, latency, requests)
  io.write(string.format("p95 %.2fms\n", latency:percentile(95) / 1000))
end
