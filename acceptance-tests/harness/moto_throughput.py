"""How fast moto's server answers calls, one at a time and ten at a time: the
emulator's own ceiling, which bounds a plan of many environments against it
(AWS answers concurrent calls concurrently).

Run from the repository's root: `.venv/bin/python acceptance-tests/harness/moto_throughput.py`
"""

import os
import subprocess
import threading
import time

import boto3

PORT = 5999
CALLS = 60
THREADS = 10


def main():
    server = subprocess.Popen(
        [".venv/bin/moto_server", "-H", "127.0.0.1", "-p", str(PORT)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(3)
        os.environ.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")
        endpoint = f"http://127.0.0.1:{PORT}"

        def client():
            return boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1")

        ec2 = client()
        for _ in range(10):
            ec2.create_vpc(CidrBlock="10.0.0.0/16")
        ec2.describe_vpcs()
        started = time.time()
        for _ in range(CALLS):
            ec2.describe_vpcs()
        one_at_a_time = time.time() - started

        clients = [client() for _ in range(THREADS)]

        def work(c):
            for _ in range(CALLS // THREADS):
                c.describe_vpcs()

        started = time.time()
        threads = [threading.Thread(target=work, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        concurrent = time.time() - started
        print(
            f"{CALLS} DescribeVpcs: one at a time {one_at_a_time:.2f} s "
            f"({one_at_a_time / CALLS * 1000:.1f} ms each), "
            f"{THREADS} at a time {concurrent:.2f} s"
        )
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
