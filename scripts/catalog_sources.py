"""The rows scripts/build_catalog.py transcribes, with their sources and what is left out.

Each table is copied verbatim from the file and commit named beside it (see the module
docstring of build_catalog.py for where every number comes from).
"""

from __future__ import annotations

from datetime import date

TRANSCRIBED = date(2026, 11, 27)
SKYPILOT_GCP = "skypilot-catalog catalogs/v7/gcp/vms.csv@017e2502"
SKYPILOT_AZURE = "skypilot-catalog catalogs/v6/azure/vms.csv@098741e7"
SKYPILOT_AWS = "skypilot-catalog catalogs/v8/aws/vms.csv@00148f2a"
# The day the AWS rows below were read.
AWS_TRANSCRIBED = date(2026, 12, 5)

AWS_REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-northeast-1",
    "ap-southeast-1",
)
AWS_GPU_FAMILIES = ("g4dn", "g5", "g6", "g6e", "p3", "p3dn", "p4d", "p4de", "p5")
AWS_CPU_FAMILIES = ("m5", "m6i", "c6i", "r6i", "m7i", "c7i", "r7i")

# skypilot-catalog catalogs/v8/aws/vms.csv@00148f2a, verbatim rows of the P-family GPU types,
# one zone per region of AWS_REGIONS (the file repeats the on-demand price for every zone of
# a region). AWS cut P4d/P4de/P5/P5en on-demand prices in June 2025, after libcloud 3.9.1's
# pricing.json (2025-03-02) was stamped, so these types come from here and their libcloud rows
# are dropped; a region this file has no row for is not shipped (p4d in ap-southeast-1). It
# also adds types libcloud does not know (p5.4xlarge, p5en, p6-b200). Spot prices are per
# zone and move by the hour, so they are not transcribed. p5e.48xlarge has no Price in any
# row (capacity blocks only); p6-b300 carries a GPU the taxonomy lacks (B300). The GpuInfo
# cell is replaced by "(GpuInfo)" to keep lines short; its per-GPU SizeInMiB is 40960 (p4d),
# 81920 (p4de, p5), 144384 (p5en) and 183359 (p6-b200).
AWS_SKYPILOT_ROWS = """\
InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone
p4d.24xlarge,A100,8.0,96.0,1152.0,(GpuInfo),30.09784,30.097800,ap-northeast-1,apne1-az1
p4d.24xlarge,A100,8.0,96.0,1152.0,(GpuInfo),27.43298,13.338300,eu-central-1,euc1-az1
p4d.24xlarge,A100,8.0,96.0,1152.0,(GpuInfo),23.71569,9.759800,eu-west-1,euw1-az2
p4d.24xlarge,A100,8.0,96.0,1152.0,(GpuInfo),21.957642,2.465500,us-east-1,use1-az1
p4d.24xlarge,A100,8.0,96.0,1152.0,(GpuInfo),21.95764,6.037400,us-east-2,use2-az1
p4d.24xlarge,A100,8.0,96.0,1152.0,(GpuInfo),21.95764,7.999200,us-west-2,usw2-az1
p4de.24xlarge,A100-80GB,8.0,96.0,1152.0,(GpuInfo),37.6223,15.978500,ap-northeast-1,apne1-az1
p4de.24xlarge,A100-80GB,8.0,96.0,1152.0,(GpuInfo),32.93646,13.753400,ap-southeast-1,apse1-az2
p4de.24xlarge,A100-80GB,8.0,96.0,1152.0,(GpuInfo),34.29122,8.821800,eu-central-1,euc1-az1
p4de.24xlarge,A100-80GB,8.0,96.0,1152.0,(GpuInfo),27.44705,9.973400,us-east-1,use1-az4
p4de.24xlarge,A100-80GB,8.0,96.0,1152.0,(GpuInfo),27.44705,10.999100,us-west-2,usw2-az1
p5.48xlarge,H100,8.0,192.0,2048.0,(GpuInfo),68.8,68.800000,ap-northeast-1,apne1-az1
p5.48xlarge,H100,8.0,192.0,2048.0,(GpuInfo),55.04,55.040000,us-east-1,use1-az1
p5.48xlarge,H100,8.0,192.0,2048.0,(GpuInfo),55.04,11.254300,us-east-2,use2-az1
p5.48xlarge,H100,8.0,192.0,2048.0,(GpuInfo),55.04,12.693500,us-west-2,usw2-az1
p5.4xlarge,H100,1.0,16.0,256.0,(GpuInfo),8.6,8.600000,ap-northeast-1,apne1-az1
p5.4xlarge,H100,1.0,16.0,256.0,(GpuInfo),6.88,,us-east-1,use1-az1
p5.4xlarge,H100,1.0,16.0,256.0,(GpuInfo),6.88,,us-east-2,use2-az1
p5.4xlarge,H100,1.0,16.0,256.0,(GpuInfo),6.88,,us-west-2,usw2-az1
p5en.48xlarge,H200,8.0,192.0,2048.0,(GpuInfo),79.12,31.630300,ap-northeast-1,apne1-az4
p5en.48xlarge,H200,8.0,192.0,2048.0,(GpuInfo),63.296,18.249200,us-east-1,use1-az2
p5en.48xlarge,H200,8.0,192.0,2048.0,(GpuInfo),63.296,22.937000,us-east-2,use2-az1
p5en.48xlarge,H200,8.0,192.0,2048.0,(GpuInfo),63.296,23.893000,us-west-2,usw2-az2
p6-b200.48xlarge,B200,8.0,192.0,2048.0,(GpuInfo),113.9328,21.014800,us-east-1,use1-az6
p6-b200.48xlarge,B200,8.0,192.0,2048.0,(GpuInfo),113.9328,22.564000,us-east-2,use2-az1
p6-b200.48xlarge,B200,8.0,192.0,2048.0,(GpuInfo),113.9328,28.442000,us-west-2,usw2-az1
"""

GCP_REGIONS = (
    "us-central1",
    "us-east1",
    "us-east4",
    "us-west1",
    "europe-west1",
    "europe-west4",
    "asia-northeast1",
    "asia-southeast1",
)
# Machine type prefix -> (libcloud gce_instances family, GiB per vCPU, vCPU sizes).
GCP_SHAPES: dict[str, tuple[str, int, tuple[int, ...]]] = {
    "n2-standard": ("n2", 4, (2, 4, 8, 16, 32, 48, 64, 80, 96, 128)),
    # n2-highmem-128 has 864 GB, off the 8 GiB/vCPU rule, so the list stops at 96.
    "n2-highmem": ("n2", 8, (2, 4, 8, 16, 32, 48, 64, 80, 96)),
    "n2-highcpu": ("n2", 1, (2, 4, 8, 16, 32, 48, 64, 80, 96)),
    "e2-standard": ("e2", 4, (2, 4, 8, 16, 32)),
    "e2-highmem": ("e2", 8, (2, 4, 8, 16)),
    "e2-highcpu": ("e2", 1, (2, 4, 8, 16, 32)),
}

# skypilot-catalog catalogs/v7/gcp/vms.csv@017e2502, host-VM rows (one zone per region; the
# file repeats identical prices for every zone of these regions).
GCP_HOST_ROWS = """\
InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice
a2-highgpu-1g,12.0,85.0,,,,us-central1,us-central1-a,0.73948,0.29576
a2-highgpu-1g,12.0,85.0,,,,us-east1,us-east1-b,0.73948,0.29576
a2-highgpu-1g,12.0,85.0,,,,us-west1,us-west1-b,0.73948,0.29576
a2-highgpu-2g,24.0,170.0,,,,us-central1,us-central1-a,1.47895,0.59151
a2-highgpu-2g,24.0,170.0,,,,us-east1,us-east1-b,1.47895,0.59151
a2-highgpu-2g,24.0,170.0,,,,us-west1,us-west1-b,1.47895,0.59151
a2-highgpu-4g,48.0,340.0,,,,us-central1,us-central1-a,2.95791,1.18302
a2-highgpu-4g,48.0,340.0,,,,us-east1,us-east1-b,2.95791,1.18302
a2-highgpu-4g,48.0,340.0,,,,us-west1,us-west1-b,2.95791,1.18302
a2-highgpu-8g,96.0,680.0,,,,us-central1,us-central1-a,5.91582,2.36604
a2-highgpu-8g,96.0,680.0,,,,us-east1,us-east1-b,5.91582,2.36604
a2-highgpu-8g,96.0,680.0,,,,us-west1,us-west1-b,5.91582,2.36604
a2-megagpu-16g,96.0,1360.0,,,,us-central1,us-central1-a,8.79698,3.51864
a3-highgpu-1g,26.0,234.0,,,,europe-west1,europe-west1-b,1.30206,0.23426
a3-highgpu-1g,26.0,234.0,,,,europe-west4,europe-west4-b,1.24163,0.2236
a3-highgpu-1g,26.0,234.0,,,,us-east4,us-east4-a,1.18251,0.21294
a3-highgpu-2g,52.0,468.0,,,,europe-west1,europe-west1-b,2.60412,0.46852
a3-highgpu-2g,52.0,468.0,,,,europe-west4,europe-west4-b,2.48327,0.4472
a3-highgpu-2g,52.0,468.0,,,,us-east4,us-east4-a,2.36502,0.42588
a3-highgpu-4g,104.0,936.0,,,,europe-west1,europe-west1-b,5.20824,0.93704
a3-highgpu-4g,104.0,936.0,,,,europe-west4,europe-west4-b,4.96653,0.8944
a3-highgpu-4g,104.0,936.0,,,,us-east4,us-east4-a,4.73003,0.85176
a3-highgpu-8g,208.0,1872.0,,,,europe-west1,europe-west1-b,10.41647,1.87408
a3-highgpu-8g,208.0,1872.0,,,,europe-west4,europe-west4-b,9.93306,1.7888
a3-highgpu-8g,208.0,1872.0,,,,us-east4,us-east4-a,9.46006,1.70352
"""

# The same file's GPU rows (empty InstanceType), for the regions above.
GCP_GPU_ROWS = """\
InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice
,,,A100,1,,us-central1,us-central1-a,2.93391,1.1472
,,,A100,1,,us-east1,us-east1-b,2.93391,1.1472
,,,A100,1,,us-west1,us-west1-b,2.93391,1.1472
,,,A100,2,,us-central1,us-central1-a,5.86782,2.2944
,,,A100,2,,us-east1,us-east1-b,5.86782,2.2944
,,,A100,2,,us-west1,us-west1-b,5.86782,2.2944
,,,A100,4,,us-central1,us-central1-a,11.73563,4.5888
,,,A100,4,,us-east1,us-east1-b,11.73563,4.5888
,,,A100,4,,us-west1,us-west1-b,11.73563,4.5888
,,,A100,8,,us-central1,us-central1-a,23.47126,9.1776
,,,A100,8,,us-east1,us-east1-b,23.47126,9.1776
,,,A100,8,,us-west1,us-west1-b,23.47126,9.1776
,,,A100,16,,us-central1,us-central1-a,46.94253,18.3552
,,,H100,1,,europe-west1,europe-west1-b,10.78698,1.9417
,,,H100,1,,europe-west4,europe-west4-b,12.73552,2.2913
,,,H100,1,,us-east4,us-east4-a,9.79655,1.7632
,,,H100,2,,europe-west1,europe-west1-b,21.57396,3.8834
,,,H100,2,,europe-west4,europe-west4-b,25.47103,4.5826
,,,H100,2,,us-east4,us-east4-a,19.5931,3.5264
,,,H100,4,,europe-west1,europe-west1-b,43.14792,7.7668
,,,H100,4,,europe-west4,europe-west4-b,50.94206,9.1652
,,,H100,4,,us-east4,us-east4-a,39.1862,7.0528
,,,H100,8,,europe-west1,europe-west1-b,86.29584,15.5336
,,,H100,8,,europe-west4,europe-west4-b,101.88413,18.3304
,,,H100,8,,us-east4,us-east4-a,78.37241,14.1056
"""

# Left out of the GCP rows on purpose, with the reason (research note compute-anchors.md §3).
GCP_LEFT_OUT = {
    "H100 at 4.20076/GPU (us-central1, us-west1, us-west4, asia-southeast1, ...)": (
        "the same SKU shows spot 10.01876 above on-demand 4.20076 in asia-northeast1 and "
        "us-east4 prices H100 2.3x higher; not a list price"
    ),
    "A100-80GB (a2-ultragpu-*)": "us-central1 GPU row 1.8462/GPU 'looks low' (pain point 2)",
    "H200 (a3-ultragpu-8g) outside us-central1, us-east4, us-west1": (
        "v8 GPU row 36.60258 for 8 (europe-west1, europe-west4, ...) is below the file's own "
        "H100 rate and under its own spot price (41.0128 in europe-west1); not a list price"
    ),
    "H100-MEGA (a3-megagpu-8g) outside us-central1, us-east4, us-west1, europe-west4": (
        "v8 GPU row 35.39149 for 8 (europe-west1, asia-southeast1, ...) is 43% of the same "
        "file's 82.75421 for the same SKU; not a list price"
    ),
    "B200 (a4-highgpu-8g)": "v8 host rows are priced 0.0 on-demand and spot in every region",
    "L4 (g2-standard-*)": "host rows not transcribed yet",
}

# skypilot-catalog catalogs/v8/gcp/vms.csv@006059e0, read on GCP_V8_TRANSCRIBED: host rows
# and GPU rows (empty InstanceType) of the 8-GPU H100 Mega and H200 types, one zone per
# region, only where the GPU row passes the checks of GCP_LEFT_OUT.
SKYPILOT_GCP_V8 = "skypilot-catalog catalogs/v8/gcp/vms.csv@006059e0"
GCP_V8_TRANSCRIBED = date(2026, 12, 5)
GCP_V8_HOST_ROWS = """\
InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice
a3-megagpu-8g,208.0,1872.0,,,,europe-west4,europe-west4-b,9.93306,2.27469
a3-megagpu-8g,208.0,1872.0,,,,us-central1,us-central1-a,9.46006,2.88933
a3-megagpu-8g,208.0,1872.0,,,,us-east4,us-east4-a,9.46006,2.15966
a3-megagpu-8g,208.0,1872.0,,,,us-west1,us-west1-a,9.46006,2.88933
a3-ultragpu-8g,224.0,2952.0,,,,us-central1,us-central1-b,12.266,3.74713
a3-ultragpu-8g,224.0,2952.0,,,,us-east4,us-east4-b,12.266,2.80034
a3-ultragpu-8g,224.0,2952.0,,,,us-west1,us-west1-c,12.266,3.74713
"""
# The same file's GPU rows; GpuInfo is {'Gpus': [{'MemoryInfo': {'SizeInMiB': N}}]} with
# N = 81920 (H100-MEGA) and 144384 (H200), shortened to "(GpuInfo)".
GCP_V8_GPU_ROWS = """\
InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice
,,,H100-MEGA,8,(GpuInfo),europe-west4,europe-west4-b,107.58048,24.6032
,,,H100-MEGA,8,(GpuInfo),us-central1,us-central1-a,82.75421,25.2808
,,,H100-MEGA,8,(GpuInfo),us-east4,us-east4-a,82.75424,14.8952
,,,H100-MEGA,8,(GpuInfo),us-west1,us-west1-a,82.75421,25.2808
,,,H200,8,(GpuInfo),us-central1,us-central1-b,74.49392,37.2472
,,,H200,8,(GpuInfo),us-east4,us-east4-b,74.49392,29.2536
,,,H200,8,(GpuInfo),us-west1,us-west1-c,74.49392,37.2472
"""
# skypilot-catalog names the GPU rows of these machine types apart from the family's GPU
# (the taxonomy reads H100-MEGA as H100).
GCP_GPU_ROW_NAMES = {"a3-megagpu-8g": "H100-MEGA"}

# skypilot-catalog catalogs/v6/azure/vms.csv@098741e7, verbatim rows.
AZURE_ROWS = """\
InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,Generation
Standard_D2_v5,,,2.0,8,,0.096,0.01056,eastus,"V1,V2"
Standard_D2_v5,,,2.0,8,,0.096,0.01248,eastus2,"V1,V2"
Standard_D2_v5,,,2.0,8,,0.096,0.01248,westus2,"V1,V2"
Standard_D2_v5,,,2.0,8,,0.096,0.01056,westus3,"V1,V2"
Standard_D4s_v5,,,4.0,16,,0.192,0.02112,eastus,"V1,V2"
Standard_D4s_v5,,,4.0,16,,0.192,0.02496,eastus2,"V1,V2"
Standard_D4s_v5,,,4.0,16,,0.192,0.02496,westus2,"V1,V2"
Standard_D4s_v5,,,4.0,16,,0.192,0.02112,westus3,"V1,V2"
Standard_D8s_v5,,,8.0,32,,0.384,0.04224,eastus,"V1,V2"
Standard_D8s_v5,,,8.0,32,,0.384,0.04992,eastus2,"V1,V2"
Standard_D8s_v5,,,8.0,32,,0.384,0.04992,westus2,"V1,V2"
Standard_D8s_v5,,,8.0,32,,0.384,0.04224,westus3,"V1,V2"
Standard_D32s_v5,,,32.0,128,,1.536,0.16896,eastus,"V1,V2"
Standard_D32s_v5,,,32.0,128,,1.536,0.19968,eastus2,"V1,V2"
Standard_D32s_v5,,,32.0,128,,1.536,0.19968,westus2,"V1,V2"
Standard_D32s_v5,,,32.0,128,,1.536,0.16896,westus3,"V1,V2"
Standard_D48s_v5,,,48.0,192,,2.304,0.25344,eastus,"V1,V2"
Standard_D48s_v5,,,48.0,192,,2.304,0.29952,eastus2,"V1,V2"
Standard_D48s_v5,,,48.0,192,,2.304,0.29952,westus2,"V1,V2"
Standard_D48s_v5,,,48.0,192,,2.304,0.25344,westus3,"V1,V2"
Standard_D64s_v5,,,64.0,256,,3.072,0.33792,eastus,"V1,V2"
Standard_D64s_v5,,,64.0,256,,3.072,0.39936,eastus2,"V1,V2"
Standard_D64s_v5,,,64.0,256,,3.072,0.39936,westus2,"V1,V2"
Standard_D64s_v5,,,64.0,256,,3.072,0.33792,westus3,"V1,V2"
Standard_D96s_v5,,,96.0,384,,4.608,0.50688,eastus,"V1,V2"
Standard_D96s_v5,,,96.0,384,,4.608,0.59904,eastus2,"V1,V2"
Standard_D96s_v5,,,96.0,384,,4.608,0.59904,westus2,"V1,V2"
Standard_D96s_v5,,,96.0,384,,4.608,0.50688,westus3,"V1,V2"
Standard_E8s_v5,,,8.0,64,,0.504,0.05544,eastus,"V1,V2"
Standard_E8s_v5,,,8.0,64,,0.504,0.06552,eastus2,"V1,V2"
Standard_E8s_v5,,,8.0,64,,0.504,0.06552,westus2,"V1,V2"
Standard_E8s_v5,,,8.0,64,,0.504,0.05544,westus3,"V1,V2"
Standard_E64_v5,,,64.0,512,,4.032,0.52416,westus2,"V1,V2"
Standard_E64_v5,,,64.0,512,,4.032,0.44352,westus3,"V1,V2"
Standard_E96s_v5,,,96.0,672,,6.048,0.66528,eastus,"V1,V2"
Standard_E96s_v5,,,96.0,672,,6.048,0.78624,eastus2,"V1,V2"
Standard_E96s_v5,,,96.0,672,,6.048,0.78624,westus2,"V1,V2"
Standard_E96s_v5,,,96.0,672,,6.048,0.66528,westus3,"V1,V2"
Standard_NC12s_v3,V100,2,12.0,224,V100,6.12,0.7956,eastus,"V1,V2"
Standard_NC12s_v3,V100,2,12.0,224,V100,6.12,0.809676,eastus2,"V1,V2"
Standard_NC12s_v3,V100,2,12.0,224,V100,6.12,0.70686,westus2,"V1,V2"
Standard_NC12s_v3,V100,2,12.0,224,V100,6.12,0.6732,westus3,"V1,V2"
Standard_NC16as_T4_v3,T4,1,16.0,110,T4,1.204,0.143517,eastus,"V1,V2"
Standard_NC16as_T4_v3,T4,1,16.0,110,T4,1.204,0.13244,eastus2,"V1,V2"
Standard_NC16as_T4_v3,T4,1,16.0,110,T4,1.204,0.140988,westus2,"V1,V2"
Standard_NC16as_T4_v3,T4,1,16.0,110,T4,1.204,0.13244,westus3,"V1,V2"
Standard_NC24ads_A100_v4,A100-80GB,1,24.0,220,A100-80GB,3.673,0.444433,eastus,V2
Standard_NC24ads_A100_v4,A100-80GB,1,24.0,220,A100-80GB,3.673,0.47749,eastus2,V2
Standard_NC24ads_A100_v4,A100-80GB,1,24.0,220,A100-80GB,3.673,0.615962,westus2,V2
Standard_NC24ads_A100_v4,A100-80GB,1,24.0,220,A100-80GB,3.673,0.40403,westus3,V2
Standard_NC24rs_v3,V100,4,24.0,448,V100,13.46,1.7498,eastus,"V1,V2"
Standard_NC24rs_v3,V100,4,24.0,448,V100,13.464,1.781287,eastus2,"V1,V2"
Standard_NC24rs_v3,V100,4,24.0,448,V100,13.46,1.55463,westus2,"V1,V2"
Standard_NC24rs_v3,V100,4,24.0,448,V100,13.46,1.4806,westus3,"V1,V2"
Standard_NC24s_v3,V100,4,24.0,448,V100,12.24,1.5912,eastus,"V1,V2"
Standard_NC24s_v3,V100,4,24.0,448,V100,12.24,1.619352,eastus2,"V1,V2"
Standard_NC24s_v3,V100,4,24.0,448,V100,12.24,1.41372,westus2,"V1,V2"
Standard_NC24s_v3,V100,4,24.0,448,V100,12.24,1.3464,westus3,"V1,V2"
Standard_NC40ads_H100_v5,H100,1,40.0,320,H100,6.98,6.98,eastus,V2
Standard_NC40ads_H100_v5,H100,1,40.0,320,H100,6.98,6.98,eastus2,V2
Standard_NC40ads_H100_v5,H100,1,40.0,320,H100,6.98,6.98,westus3,V2
Standard_NC48ads_A100_v4,A100-80GB,2,48.0,440,A100-80GB,7.346,0.888866,eastus,V2
Standard_NC48ads_A100_v4,A100-80GB,2,48.0,440,A100-80GB,7.346,0.95498,eastus2,V2
Standard_NC48ads_A100_v4,A100-80GB,2,48.0,440,A100-80GB,7.346,1.231924,westus2,V2
Standard_NC48ads_A100_v4,A100-80GB,2,48.0,440,A100-80GB,7.346,0.80806,westus3,V2
Standard_NC4as_T4_v3,T4,1,4.0,28,T4,0.526,0.062699,eastus,"V1,V2"
Standard_NC4as_T4_v3,T4,1,4.0,28,T4,0.526,0.05786,eastus2,"V1,V2"
Standard_NC4as_T4_v3,T4,1,4.0,28,T4,0.526,0.061595,westus2,"V1,V2"
Standard_NC4as_T4_v3,T4,1,4.0,28,T4,0.526,0.05786,westus3,"V1,V2"
Standard_NC64as_T4_v3,T4,4,64.0,440,T4,4.352,0.518758,eastus,"V1,V2"
Standard_NC64as_T4_v3,T4,4,64.0,440,T4,4.352,0.47872,eastus2,"V1,V2"
Standard_NC64as_T4_v3,T4,4,64.0,440,T4,4.352,0.509619,westus2,"V1,V2"
Standard_NC64as_T4_v3,T4,4,64.0,440,T4,4.352,0.47872,westus3,"V1,V2"
Standard_NC6s_v3,V100,1,6.0,112,V100,3.06,0.3978,eastus,"V1,V2"
Standard_NC6s_v3,V100,1,6.0,112,V100,3.06,0.404838,eastus2,"V1,V2"
Standard_NC6s_v3,V100,1,6.0,112,V100,3.06,0.35343,westus2,"V1,V2"
Standard_NC6s_v3,V100,1,6.0,112,V100,3.06,0.3366,westus3,"V1,V2"
Standard_NC80adis_H100_v5,H100,2,80.0,640,H100,13.96,13.96,eastus,V2
Standard_NC80adis_H100_v5,H100,2,80.0,640,H100,13.96,13.96,eastus2,V2
Standard_NC80adis_H100_v5,H100,2,80.0,640,H100,13.96,13.96,westus3,V2
Standard_NC8as_T4_v3,T4,1,8.0,56,T4,0.752,0.089638,eastus,"V1,V2"
Standard_NC8as_T4_v3,T4,1,8.0,56,T4,0.752,0.08272,eastus2,"V1,V2"
Standard_NC8as_T4_v3,T4,1,8.0,56,T4,0.752,0.088059,westus2,"V1,V2"
Standard_NC8as_T4_v3,T4,1,8.0,56,T4,0.752,0.08272,westus3,"V1,V2"
Standard_NC96ads_A100_v4,A100-80GB,4,96.0,880,A100-80GB,14.692,1.777732,eastus,V2
Standard_NC96ads_A100_v4,A100-80GB,4,96.0,880,A100-80GB,14.692,1.90996,eastus2,V2
Standard_NC96ads_A100_v4,A100-80GB,4,96.0,880,A100-80GB,14.692,2.463848,westus2,V2
Standard_NC96ads_A100_v4,A100-80GB,4,96.0,880,A100-80GB,14.692,1.61612,westus3,V2
Standard_ND40rs_v2,V100-32GB,8,40.0,672,V100-32GB,22.032,2.42352,eastus,V2
Standard_ND40rs_v2,V100-32GB,8,40.0,672,V100-32GB,22.032,2.42352,westus2,V2
Standard_ND96amsr_A100_v4,A100-80GB,8,96.0,1800,A100-80GB,32.77,3.6047,eastus,V2
Standard_ND96amsr_A100_v4,A100-80GB,8,96.0,1800,A100-80GB,32.77,3.611254,eastus2,V2
Standard_ND96asr_v4,A100,8,96.0,900,A100,27.197,2.99167,eastus,V2
Standard_ND96asr_v4,A100,8,96.0,900,A100,32.63,3.5893,southcentralus,V2
Standard_ND96asr_v4,A100,8,96.0,900,A100,27.197,2.99167,westus2,V2
Standard_ND96isr_H100_v5,H100,12,96.0,1900,H100,98.32,98.32,eastus,V2
Standard_ND96isr_H100_v5,H100,12,96.0,1900,H100,98.32,98.32,eastus2,V2
Standard_NV36adms_A10_v5,A10,1,36.0,880,A10,4.52,1.13,eastus,"V1,V2"
Standard_NV36adms_A10_v5,A10,1,36.0,880,A10,4.52,1.13,eastus2,"V1,V2"
Standard_NV36adms_A10_v5,A10,1,36.0,880,A10,4.52,1.13,westus2,"V1,V2"
Standard_NV36adms_A10_v5,A10,1,36.0,880,A10,4.52,1.13,westus3,"V1,V2"
Standard_NV36ads_A10_v5,A10,1,36.0,440,A10,3.2,0.8,eastus,"V1,V2"
Standard_NV36ads_A10_v5,A10,1,36.0,440,A10,3.2,0.8,eastus2,"V1,V2"
Standard_NV36ads_A10_v5,A10,1,36.0,440,A10,3.2,0.8,westus2,"V1,V2"
Standard_NV36ads_A10_v5,A10,1,36.0,440,A10,3.2,0.8,westus3,"V1,V2"
Standard_NV72ads_A10_v5,A10,2,72.0,880,A10,6.52,1.63,eastus,"V1,V2"
Standard_NV72ads_A10_v5,A10,2,72.0,880,A10,6.52,1.63,eastus2,"V1,V2"
Standard_NV72ads_A10_v5,A10,2,72.0,880,A10,6.52,1.63,westus2,"V1,V2"
Standard_NV72ads_A10_v5,A10,2,72.0,880,A10,6.52,1.63,westus3,"V1,V2"
"""

# Left out of the Azure rows on purpose, with the reason (research note compute-anchors.md §3).
# Neither skypilot-catalog's v5 nor its v6 Azure file has a row for ND96isr_H200_v5 or
# ND96isr_MI300X_v5, so those sizes are not shipped.
AZURE_LEFT_OUT: dict[str, str] = {}
# The file's AcceleratorCount for these sizes is wrong; the Azure size docs give the count
# (ND96isr_H100_v5: 8x H100 80 GB, NVLink + InfiniBand). The price column agrees with Azure's
# retail price list: 98.32 / 8 = 12.29 per GPU-hour is what
# https://raw.githubusercontent.com/datareceipts/data-receipts/main/109-gpu-pricing/README.md
# (retrieved 2026-11-09) lists for the size; it equals AWS's pre-cut p5.48xlarge price by chance.
AZURE_COUNT_FIXED = {"Standard_ND96isr_H100_v5": 8}
# SkyPilot fills a missing H100 spot price with the on-demand one "to enable launching"
# (fetch_azure.py); such a value is not a spot price, so it is dropped.
AZURE_SPOT_FILLED = (
    "Standard_NC40ads_H100_v5",
    "Standard_NC80adis_H100_v5",
    "Standard_ND96isr_H100_v5",
)
# SkyPilot names these H100; Azure documents them as H100 NVL (94 GB), as gpuhunt does.
AZURE_GPU_RENAMED = {
    "Standard_NC40ads_H100_v5": "H100-NVL",
    "Standard_NC80adis_H100_v5": "H100-NVL",
}

# Sizes priced from libcloud's azure_linux in regions the transcribed rows do not cover; the
# shape (vCPUs, GiB) is the one skypilot-catalog gives for the size in any region.
AZURE_LIBCLOUD_SIZES: dict[str, tuple[float, float]] = {
    "Standard_NC6s_v3": (6, 112),
    "Standard_NC12s_v3": (12, 224),
    "Standard_NC24s_v3": (24, 448),
    "Standard_NC24rs_v3": (24, 448),
    "Standard_ND40rs_v2": (40, 672),
    "Standard_NC4as_T4_v3": (4, 28),
    "Standard_NC64as_T4_v3": (64, 440),
    "Standard_D4s_v4": (4, 16),
    "Standard_D8s_v4": (8, 32),
    "Standard_D32s_v4": (32, 128),
    "Standard_D48s_v4": (48, 192),
    "Standard_D64s_v4": (64, 256),
    "Standard_E8s_v4": (8, 64),
}
AZURE_LIBCLOUD_REGIONS = (
    "eastus",
    "eastus2",
    "westus2",
    "westeurope",
    "northeurope",
    "uksouth",
    "francecentral",
    "japaneast",
    "koreacentral",
    "southeastasia",
    "australiaeast",
    "centralindia",
    "canadacentral",
)
