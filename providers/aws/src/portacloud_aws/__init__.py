"""portacloud-aws: Amazon S3 and S3-compatible servers behind ``s3://`` URLs, and EC2
instances behind ``aws://REGION``.

Importing this package imports no AWS SDK: boto3 is loaded the first time an ``s3://`` bucket
or an ``aws://`` compute handle is opened (see :mod:`portacloud_aws.storage` and
:mod:`portacloud_aws.compute`).
"""

__version__ = "0.1.0"
