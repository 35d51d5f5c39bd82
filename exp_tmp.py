import time, cProfile, pstats, threading
import bench.bench_logs as b
from nosana_nb import sandbox as sm
from nosana_nb.core.client import NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.wallet import Wallet
s = sm.start(db=":memory:", speed=None, seed=0)
o = Wallet.generate(); s.faucet(o, sol=20, nos=1000)
with NosanaClient(local_network(s.api_url, nos_mint=s.nos_mint), o, env={}) as c:
    t=time.perf_counter(); jobs = b.ended_jobs(s, c, 300); print("setup", time.perf_counter()-t)
    h = {d: c.deployments.get(d) for d in jobs["deployment"].unique()}
    pr = cProfile.Profile()
    threading.setprofile(lambda *a: None)
    import sys
    def prof_all(frame, event, arg): pass
    pr.enable()
    t=time.perf_counter(); [h[d].job(j).results() for d,j in zip(jobs["deployment"][:50], jobs["job"][:50])]; print("50 seq", time.perf_counter()-t)
    pr.disable()
    st = s.store
    t=time.perf_counter()
    for j in jobs["job"][:50]:
        st.find_one("jobs", job=j); st.find_one("results", job=j)
    print("50x store lookups", time.perf_counter()-t)
s.stop()
