"""portacloud-aws: Amazon S3 and S3-compatible servers behind ``s3://`` URLs.

Importing this package imports no AWS SDK: boto3 is loaded the first time an ``s3://`` bucket
is opened (see :mod:`portacloud_aws.storage`).
"""

__version__ = "0.1.0"
