"""Prove on a real GPU machine that a portacloud job sees and uses exactly the GPUs it asked for.

Run by scripts/device/gpu_check.sh on a lent NVIDIA machine. Writes gpu_proof.json to the
directory given as the first argument. Every claim is measured, none assumed:

1. the local:// queue reads its inventory from NVML / nvidia-smi;
2. a 1-GPU job sees one device in CUDA_VISIBLE_DEVICES, torch sees one device, and the job's
   own process shows up in nvidia-smi's compute apps while it runs a bf16 matmul loop; the
   job writes its measured TFLOP/s to PORTACLOUD_OUTPUT_URI, read back afterwards;
3. a 0-GPU job sees no device at all;
4. a request for more GPUs than the machine has fails fast with NO_CAPACITY;
5. two 1-GPU jobs on a 1-GPU machine run one after the other (exclusive allocation).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import portacloud
from portacloud import JobSpec, JobState, Resources
from portacloud.jobs.gpus import detect_gpus

TRAIN = r"""
import json, os, time, torch, portacloud
visible = os.environ.get("CUDA_VISIBLE_DEVICES")
count = torch.cuda.device_count()
result = {"visible": visible, "torch_device_count": count, "pid": os.getpid()}
if count:
    result["device_name"] = torch.cuda.get_device_name(0)
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    iters, start = 0, time.perf_counter()
    while time.perf_counter() - start < float(os.environ.get("BURN_SECONDS", "6")):
        a @ b
        iters += 1
        if iters % 20 == 0:
            torch.cuda.synchronize()
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    result["tflops"] = 2 * n**3 * iters / elapsed / 1e12
    result["iterations"] = iters
print(json.dumps(result), flush=True)
portacloud.open_bucket(os.environ["PORTACLOUD_OUTPUT_URI"]).put(
    "result.json", json.dumps(result).encode(), content_type="application/json"
)
"""


def smi(query: str) -> str:
    done = subprocess.run(
        ["nvidia-smi", f"--query-{query}", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()


def command(burn: float) -> str:
    return f"BURN_SECONDS={burn} {shlex.quote(sys.executable)} -c {shlex.quote(TRAIN)}"


def main() -> None:
    out = Path(sys.argv[1])
    inventory = detect_gpus()
    proof: dict[str, object] = {
        "inventory": inventory,
        "nvidia_smi_gpus": smi("gpu=index,name,memory.total"),
    }
    queue = portacloud.open_jobs("local://gpu-proof")
    proof["max_gpus_per_job"] = queue.capabilities.max_gpus_per_job

    # 2. one GPU, used for real while nvidia-smi watches
    job = queue.submit(JobSpec(name="burn", command=command(8), resources=Resources(gpus=1)))
    samples = []
    while not queue.status(job.id).state.terminal:
        samples.append(
            {"apps": smi("compute-apps=pid,used_memory"), "util": smi("gpu=utilization.gpu")}
        )
        time.sleep(0.5)
    status = queue.wait(job.id, timeout=300)
    result = json.loads(portacloud.open_bucket(job.output_uri or "").get("result.json"))
    busy = [s for s in samples if str(result.get("pid")) in s["apps"]]
    proof["one_gpu_job"] = {
        "state": status.state.value,
        "result": result,
        "samples_while_running": len(samples),
        "samples_with_job_pid_on_gpu": len(busy),
        "max_utilization_percent": max((int(s["util"] or 0) for s in samples), default=0),
        "logs_tail": queue.logs(job.id)[-400:],
    }

    # 3. no GPU asked, none seen
    none = queue.submit(JobSpec(name="nogpu", command=command(0), resources=Resources(gpus=0)))
    queue.wait(none.id, timeout=300)
    proof["zero_gpu_job"] = json.loads(
        portacloud.open_bucket(none.output_uri or "").get("result.json")
    )

    # 4. more than the machine has: fails fast with a reason
    started = time.monotonic()
    too_many = Resources(gpus=len(inventory) + 1)
    big = queue.submit(JobSpec(name="toobig", command="true", resources=too_many))
    big_status = queue.wait(big.id, timeout=60)
    proof["impossible_job"] = {
        "state": big_status.state.value,
        "reason": big_status.reason.value if big_status.reason else None,
        "message": big_status.message,
        "seconds_to_fail": round(time.monotonic() - started, 3),
    }

    # 5. two 1-GPU jobs on a 1-GPU machine: the second waits for the first
    first = queue.submit(JobSpec(name="first", command=command(3), resources=Resources(gpus=1)))
    second = queue.submit(JobSpec(name="second", command=command(0), resources=Resources(gpus=1)))
    time.sleep(1.5)
    second_while_first_runs = queue.status(second.id).state.value
    s1, s2 = queue.wait(first.id, timeout=300), queue.wait(second.id, timeout=300)
    fifo = bool(s1.ended_at and s2.started_at and s2.started_at >= s1.ended_at)
    proof["exclusive_allocation"] = {
        "second_state_while_first_runs": second_while_first_runs,
        "first": [str(s1.started_at), str(s1.ended_at)],
        "second": [str(s2.started_at), str(s2.ended_at)],
        "second_started_after_first_ended": fifo,
        "states": [s1.state.value, s2.state.value],
    }
    (out / "gpu_proof.json").write_text(json.dumps(proof, indent=2, default=str))
    print(json.dumps(proof, indent=2, default=str))
    ok = (
        status.state is JobState.SUCCEEDED
        and result.get("torch_device_count") == 1
        and len(str(result.get("visible", "")).split(",")) == 1
        and busy
        and proof["zero_gpu_job"]["torch_device_count"] == 0  # type: ignore[index]
        and big_status.reason is not None
        and big_status.reason.value == "NO_CAPACITY"
        and fifo
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
