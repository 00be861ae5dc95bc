//! One S3 request's way through the gateway: resolve the target, classify
//! the operation, authenticate (SigV4 through the core, or anonymous),
//! authorize (the action and ARN, identity + session + boundary + bucket
//! policy), execute against the built-in store, encode the answer.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, request::Parts};
use http_body::Body;
use mayfly_core::{Core, GatewayAudit, GatewayRequest, Principal, ResourcePolicy, Verified};
use mayfly_policy::{Policy, PolicyKind};
use mayfly_server::StreamingBody;
use mayfly_sigv4::{AuthForm, Payload, PayloadHash, SigV4Error, UriEncoding};

use crate::body::{BodyPlan, BodyReader};
use crate::chunked::ChainKey;
use crate::error::S3Error;
use crate::request::{Query, Target, resolve_target};
use crate::response::{self, FileBody, empty, http_date, iso8601, quoted, xml};
use crate::sink::UploadSink;
use crate::store::{
    BucketMeta, BuiltinStore, ListEntry, ListQuery, ObjectData, ObjectMeta, PartFile,
    READ_ATTEMPTS, StoreError, StoredObject, replaced_while_read,
};
use crate::xml::XmlWriter;

/// Largest XML request document (DeleteObjects, policies) read into memory.
const MAX_DOCUMENT_BYTES: u64 = 1024 * 1024;
/// Largest bucket policy S3 accepts.
const MAX_POLICY_BYTES: usize = 20 * 1024;

/// Gateway settings.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// `--s3-domain`: enables virtual-host-style addressing (`BUCKET.DOMAIN`).
    pub domain: Option<String>,
    /// The region GetBucketLocation reports (`us-east-1` answers empty, as S3).
    pub region: String,
    /// Largest single object (PutObject) in bytes.
    pub max_object_bytes: u64,
    /// Upstream mode: forward object requests to this store instead of
    /// the built-in one (buckets' owners and policies stay local).
    pub upstream: Option<crate::upstream::UpstreamConfig>,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            domain: None,
            region: "us-east-1".to_owned(),
            max_object_bytes: 5 * 1024 * 1024 * 1024,
            upstream: None,
        }
    }
}

/// The S3 gateway over the built-in store.
#[derive(Debug)]
pub struct S3Gateway {
    core: Arc<Core>,
    store: BuiltinStore,
    config: S3Config,
    upstream: Option<crate::upstream::Upstream>,
    request_counter: AtomicU64,
    request_id_prefix: u64,
    /// Bucket records with their parsed policies, each valid while the
    /// store's bucket generation is the one it was read at: every request
    /// needs its bucket's owner and policy, and reading and parsing them
    /// each time was a large part of a small GET.
    buckets: RwLock<HashMap<String, Arc<Bucket>>>,
}

/// The operations the gateway serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    ListBuckets,
    CreateBucket,
    DeleteBucket,
    HeadBucket,
    GetBucketLocation,
    ListObjectsV2,
    GetBucketPolicy,
    PutBucketPolicy,
    DeleteBucketPolicy,
    DeleteObjects,
    PutObject,
    CopyObject,
    GetObject,
    HeadObject,
    DeleteObject,
    CreateMultipartUpload,
    UploadPart,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    ListMultipartUploads,
}

impl Operation {
    /// The IAM action of the operation (policy-evaluation.md: `s3:` actions).
    fn action(self) -> &'static str {
        match self {
            Self::ListBuckets => "s3:ListAllMyBuckets",
            Self::CreateBucket => "s3:CreateBucket",
            Self::DeleteBucket => "s3:DeleteBucket",
            Self::HeadBucket | Self::ListObjectsV2 => "s3:ListBucket",
            Self::GetBucketLocation => "s3:GetBucketLocation",
            Self::GetBucketPolicy => "s3:GetBucketPolicy",
            Self::PutBucketPolicy => "s3:PutBucketPolicy",
            Self::DeleteBucketPolicy => "s3:DeleteBucketPolicy",
            Self::DeleteObjects | Self::DeleteObject => "s3:DeleteObject",
            Self::PutObject | Self::CopyObject => "s3:PutObject",
            Self::GetObject | Self::HeadObject => "s3:GetObject",
            Self::CreateMultipartUpload | Self::UploadPart | Self::CompleteMultipartUpload => {
                "s3:PutObject"
            }
            Self::AbortMultipartUpload => "s3:AbortMultipartUpload",
            Self::ListParts => "s3:ListMultipartUploadParts",
            Self::ListMultipartUploads => "s3:ListBucketMultipartUploads",
        }
    }
}

fn route(
    method: &Method,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
) -> Result<Operation, S3Error> {
    let not_implemented = || {
        S3Error::new(
            "NotImplemented",
            501,
            "A header or query you provided implies functionality that is not implemented.",
        )
    };
    let op = match (&target.bucket, &target.key) {
        (None, _) => match *method {
            Method::GET => Operation::ListBuckets,
            _ => return Err(method_not_allowed()),
        },
        (Some(_), None) => match *method {
            Method::PUT if query.has("policy") => Operation::PutBucketPolicy,
            Method::PUT if query.has("acl") || query.has("versioning") || query.has("tagging") => {
                return Err(not_implemented());
            }
            Method::PUT => Operation::CreateBucket,
            Method::DELETE if query.has("policy") => Operation::DeleteBucketPolicy,
            Method::DELETE => Operation::DeleteBucket,
            Method::HEAD => Operation::HeadBucket,
            Method::GET if query.has("location") => Operation::GetBucketLocation,
            Method::GET if query.has("policy") => Operation::GetBucketPolicy,
            Method::GET if query.get("list-type") == Some("2") => Operation::ListObjectsV2,
            Method::GET if query.has("uploads") => Operation::ListMultipartUploads,
            Method::GET => return Err(not_implemented()),
            Method::POST if query.has("delete") => Operation::DeleteObjects,
            _ => return Err(method_not_allowed()),
        },
        (Some(_), Some(_)) => {
            if query.has("tagging") || query.has("acl") {
                return Err(not_implemented());
            }
            let upload = query.has("uploadId");
            match *method {
                Method::POST if query.has("uploads") => Operation::CreateMultipartUpload,
                Method::POST if upload => Operation::CompleteMultipartUpload,
                Method::PUT if upload && headers.contains_key("x-amz-copy-source") => {
                    return Err(not_implemented());
                }
                Method::PUT if upload => Operation::UploadPart,
                Method::DELETE if upload => Operation::AbortMultipartUpload,
                Method::GET if upload => Operation::ListParts,
                Method::PUT if headers.contains_key("x-amz-copy-source") => Operation::CopyObject,
                Method::PUT => Operation::PutObject,
                Method::GET => Operation::GetObject,
                Method::HEAD => Operation::HeadObject,
                Method::DELETE => Operation::DeleteObject,
                _ => return Err(method_not_allowed()),
            }
        }
    };
    Ok(op)
}

fn method_not_allowed() -> S3Error {
    S3Error::new(
        "MethodNotAllowed",
        405,
        "The specified method is not allowed against this resource.",
    )
}

fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

fn object_arn(bucket: &str, key: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}

fn store_error(error: StoreError) -> S3Error {
    match error {
        StoreError::NoSuchBucket => {
            S3Error::new("NoSuchBucket", 404, "The specified bucket does not exist")
        }
        StoreError::BucketNotEmpty => S3Error::new(
            "BucketNotEmpty",
            409,
            "The bucket you tried to delete is not empty",
        ),
        StoreError::NoSuchUpload => S3Error::new(
            "NoSuchUpload",
            404,
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        ),
        StoreError::BucketExists { .. } => S3Error::new(
            "BucketAlreadyExists",
            409,
            "The requested bucket name is not available.",
        ),
        other => {
            tracing::error!(error = %other, "s3 store failure");
            S3Error::internal()
        }
    }
}

/// What the audit event of a request needs, filled in as it is learnt.
#[derive(Debug, Default)]
struct Seen {
    target: Target,
    op: Option<Operation>,
    principal: Option<Principal>,
}

/// One authenticated request, with what authorization needs.
struct Call<'a> {
    gateway: &'a S3Gateway,
    request: GatewayRequest<'a>,
    principal: &'a Principal,
    form: Option<AuthForm>,
}

/// A bucket with its parsed policy.
#[derive(Debug)]
struct Bucket {
    /// The store's bucket generation this record was read at.
    generation: u64,
    name: String,
    meta: BucketMeta,
    policy: Option<Policy>,
    /// The stored policy document as set (GetBucketPolicy answers it).
    policy_text: Option<String>,
}

impl Call<'_> {
    fn authorize(
        &self,
        action: &str,
        resource: &str,
        owner_account: &str,
        policy: Option<&Policy>,
        extra: &[(&str, Vec<String>)],
    ) -> Result<(), S3Error> {
        let mut keys: Vec<(&str, Vec<String>)> = extra.to_vec();
        keys.push(("s3:signatureversion", vec!["AWS4-HMAC-SHA256".to_owned()]));
        if let Some(form) = self.form {
            let auth_type = match form {
                AuthForm::Header => "REST-HEADER",
                AuthForm::Presigned => "REST-QUERY-STRING",
            };
            keys.push(("s3:authType", vec![auth_type.to_owned()]));
        }
        let decision = self.gateway.core.authorize_gateway(
            &self.request,
            self.principal,
            action,
            resource,
            ResourcePolicy {
                policy,
                owner_account,
            },
            &keys,
        );
        if decision.is_allowed() {
            Ok(())
        } else {
            tracing::debug!(
                principal = %self.principal.arn(),
                %action,
                %resource,
                reason = %decision.reason_phrase(),
                "s3 request denied"
            );
            Err(S3Error::access_denied())
        }
    }

    fn authorize_bucket(
        &self,
        bucket: &Bucket,
        action: &str,
        resource: &str,
        extra: &[(&str, Vec<String>)],
    ) -> Result<(), S3Error> {
        self.authorize(
            action,
            resource,
            &bucket.meta.owner,
            bucket.policy.as_ref(),
            extra,
        )
    }
}

impl S3Gateway {
    /// The gateway over the built-in store in `data_dir/s3`.
    pub async fn open(
        core: Arc<Core>,
        data_dir: &Path,
        config: S3Config,
    ) -> Result<Self, StoreError> {
        let store = BuiltinStore::open(data_dir.join("s3")).await?;
        let mut prefix = [0u8; 8];
        aws_lc_rs::rand::fill(&mut prefix)
            .map_err(|_| StoreError::Io(std::io::Error::other("rng failed")))?;
        let upstream = match &config.upstream {
            Some(upstream) => Some(crate::upstream::Upstream::new(upstream.clone()).map_err(
                |_| StoreError::Io(std::io::Error::other("upstream client setup failed")),
            )?),
            None => None,
        };
        Ok(Self {
            core,
            store,
            config,
            upstream,
            request_counter: AtomicU64::new(0),
            request_id_prefix: u64::from_be_bytes(prefix),
            buckets: RwLock::new(HashMap::new()),
        })
    }

    fn request_id(&self) -> String {
        let n = self.request_counter.fetch_add(1, Ordering::Relaxed);
        format!("{:016X}", self.request_id_prefix ^ n.rotate_left(32))
    }

    /// Serve one request.
    pub async fn handle<B>(
        &self,
        request: Request<B>,
        source_ip: IpAddr,
        secure: bool,
    ) -> Response<StreamingBody>
    where
        B: Body<Data = Bytes> + Send + Unpin,
        B::Error: std::fmt::Display,
    {
        let request_id = self.request_id();
        let time = self.core.clock().now();
        let (parts, body) = request.into_parts();
        let head = parts.method == Method::HEAD;
        let mut seen = Seen::default();
        let result = self.serve(&parts, body, source_ip, secure, &mut seen).await;
        let mut parameters = Vec::new();
        if let Some(bucket) = &seen.target.bucket {
            parameters.push(("bucket".to_owned(), bucket.clone()));
        }
        if let Some(key) = &seen.target.key {
            parameters.push(("key".to_owned(), key.clone()));
        }
        let action = seen.op.map(|op| format!("{op:?}")).unwrap_or_default();
        self.core.audit_gateway(GatewayAudit {
            time,
            request_id: &request_id,
            service: "s3",
            action: &action,
            principal: seen.principal.as_ref(),
            source_ip,
            parameters,
            error_code: result.as_ref().err().map(|e| e.code),
        });
        let mut response = match result {
            Ok(response) => response,
            Err(error) => {
                // 503: a stale view, logged once when refusing starts.
                if error.status >= 500 && error.status != 503 {
                    tracing::error!(code = error.code, %request_id, "s3 request failed");
                } else {
                    tracing::debug!(code = error.code, message = %error.message, %request_id, "s3 request refused");
                }
                let status =
                    StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                if head {
                    empty(status)
                } else {
                    xml(status, error.to_xml(parts.uri.path(), &request_id))
                }
            }
        };
        let headers = response.headers_mut();
        if let Ok(id) = HeaderValue::from_str(&request_id) {
            headers.insert("x-amz-request-id", id);
        }
        headers.insert(http::header::SERVER, HeaderValue::from_static("MayflyS3"));
        response
    }

    async fn serve<B>(
        &self,
        parts: &Parts,
        body: B,
        source_ip: IpAddr,
        secure: bool,
        seen: &mut Seen,
    ) -> Result<Response<StreamingBody>, S3Error>
    where
        B: Body<Data = Bytes> + Send + Unpin,
        B::Error: std::fmt::Display,
    {
        let header_list: Vec<(&str, &[u8])> = parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let request = GatewayRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &header_list,
            source_ip,
            secure_transport: secure,
        };
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()));
        let target = resolve_target(host, parts.uri.path(), self.config.domain.as_deref())?;
        seen.target = target.clone();
        let query = Query::parse(request.query);
        let op = route(&parts.method, &target, &query, &parts.headers)?;
        seen.op = Some(op);

        // SigV2 (`Authorization: AWS …` is refused by the SigV4 parser; the
        // query form is caught here) must not fall through to anonymous.
        if query.has("AWSAccessKeyId") || query.has("Signature") {
            return Err(S3Error::invalid_request(
                "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
            ));
        }
        let verified = match self.core.authenticate_sigv4(
            &request,
            "s3",
            Payload::Deferred,
            UriEncoding::Single,
        ) {
            Ok(verified) => Some(verified),
            Err(SigV4Error::MissingAuthentication) => None,
            Err(error) => return Err(error.into()),
        };
        let anonymous = Principal::anonymous();
        seen.principal = verified.as_ref().map(|v| v.principal.clone());
        let (principal, form) = match &verified {
            Some(v) => (&v.principal, Some(v.authentication.form())),
            None => (&anonymous, None),
        };
        tracing::debug!(
            operation = ?op,
            principal = %principal.arn(),
            payload = verified
                .as_ref()
                .and_then(|v| v.authentication.content_sha256())
                .map_or("none", |p| if p.len() == 64 { "sha256" } else { p }),
            "s3 request"
        );
        let plan = body_plan(&parts.headers, verified.as_ref())?;
        let call = Call {
            gateway: self,
            request,
            principal,
            form,
        };
        let bucket_name = target.bucket.clone().unwrap_or_default();
        let key = target.key.clone().unwrap_or_default();
        // Every operation but GetObject/HeadObject is awaited through a
        // box: a future holds the state of all the futures it awaits inline,
        // and the HTTP layer moves the request's future several times, so
        // inline they made every GET copy tens of KiB (a third of its
        // instructions under callgrind).
        match op {
            Operation::ListBuckets => Box::pin(self.list_buckets(&call)).await,
            Operation::CreateBucket => {
                Box::pin(self.create_bucket(&call, &bucket_name, body, plan)).await
            }
            _ => {
                let bucket = self.load_bucket(&bucket_name).await?;
                if let Some(upstream) = &self.upstream
                    && !matches!(
                        op,
                        Operation::HeadBucket
                            | Operation::GetBucketLocation
                            | Operation::GetBucketPolicy
                            | Operation::PutBucketPolicy
                            | Operation::DeleteBucketPolicy
                    )
                {
                    return Box::pin(self.serve_upstream(
                        upstream, &call, op, &bucket, &key, parts, &query, body, plan,
                    ))
                    .await;
                }
                match op {
                    Operation::DeleteBucket => {
                        call.authorize_bucket(
                            &bucket,
                            op.action(),
                            &bucket_arn(&bucket.name),
                            &[],
                        )?;
                        self.store
                            .delete_bucket(&bucket.name)
                            .await
                            .map_err(store_error)?;
                        Ok(empty(StatusCode::NO_CONTENT))
                    }
                    Operation::HeadBucket => {
                        call.authorize_bucket(
                            &bucket,
                            op.action(),
                            &bucket_arn(&bucket.name),
                            &[],
                        )?;
                        let mut response = empty(StatusCode::OK);
                        if let Ok(region) = HeaderValue::from_str(&self.config.region) {
                            response.headers_mut().insert("x-amz-bucket-region", region);
                        }
                        Ok(response)
                    }
                    Operation::GetBucketLocation => {
                        call.authorize_bucket(
                            &bucket,
                            op.action(),
                            &bucket_arn(&bucket.name),
                            &[],
                        )?;
                        let region = if self.config.region == "us-east-1" {
                            ""
                        } else {
                            self.config.region.as_str()
                        };
                        let doc = format!(
                            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"{}\">{}</LocationConstraint>",
                            crate::xml::NAMESPACE,
                            crate::xml::escape(region)
                        );
                        Ok(xml(StatusCode::OK, doc))
                    }
                    Operation::ListObjectsV2 => {
                        Box::pin(self.list_objects_v2(&call, &bucket, &query)).await
                    }
                    Operation::GetBucketPolicy => {
                        call.authorize_bucket(
                            &bucket,
                            op.action(),
                            &bucket_arn(&bucket.name),
                            &[],
                        )?;
                        match &bucket.policy_text {
                            Some(text) => {
                                let mut response = Response::new(response::full(text.clone()));
                                response.headers_mut().insert(
                                    http::header::CONTENT_TYPE,
                                    HeaderValue::from_static("application/json"),
                                );
                                Ok(response)
                            }
                            None => Err(S3Error::new(
                                "NoSuchBucketPolicy",
                                404,
                                "The bucket policy does not exist",
                            )
                            .with("BucketName", bucket.name.clone())),
                        }
                    }
                    Operation::PutBucketPolicy => {
                        Box::pin(self.put_bucket_policy(&call, &bucket, body, plan)).await
                    }
                    Operation::DeleteBucketPolicy => {
                        call.authorize_bucket(
                            &bucket,
                            op.action(),
                            &bucket_arn(&bucket.name),
                            &[],
                        )?;
                        self.store
                            .delete_policy(&bucket.name)
                            .await
                            .map_err(store_error)?;
                        Ok(empty(StatusCode::NO_CONTENT))
                    }
                    Operation::DeleteObjects => {
                        Box::pin(self.delete_objects(&call, &bucket, body, plan)).await
                    }
                    Operation::PutObject => {
                        Box::pin(self.put_object(&call, &bucket, &key, &parts.headers, body, plan))
                            .await
                    }
                    Operation::CopyObject => {
                        Box::pin(self.copy_object(&call, &bucket, &key, &parts.headers)).await
                    }
                    Operation::GetObject | Operation::HeadObject => {
                        call.authorize_bucket(
                            &bucket,
                            op.action(),
                            &object_arn(&bucket.name, &key),
                            &[],
                        )?;
                        self.get_object(
                            &bucket,
                            &key,
                            &parts.headers,
                            &query,
                            op == Operation::HeadObject,
                        )
                    }
                    Operation::DeleteObject => {
                        call.authorize_bucket(
                            &bucket,
                            op.action(),
                            &object_arn(&bucket.name, &key),
                            &[],
                        )?;
                        self.store
                            .delete_object(&bucket.name, &key)
                            .await
                            .map_err(store_error)?;
                        Ok(empty(StatusCode::NO_CONTENT))
                    }
                    Operation::CreateMultipartUpload => {
                        call.authorize_bucket(
                            &bucket,
                            op.action(),
                            &object_arn(&bucket.name, &key),
                            &[],
                        )?;
                        let object = object_meta_from_headers(&key, &parts.headers)?;
                        let upload = self
                            .store
                            .create_upload(&bucket.name, object)
                            .await
                            .map_err(store_error)?;
                        let mut doc = XmlWriter::new("InitiateMultipartUploadResult");
                        doc.element("Bucket", &bucket.name)
                            .element("Key", &key)
                            .element("UploadId", &upload.upload_id);
                        Ok(xml(
                            StatusCode::OK,
                            doc.finish("InitiateMultipartUploadResult"),
                        ))
                    }
                    Operation::UploadPart => {
                        call.authorize_bucket(
                            &bucket,
                            op.action(),
                            &object_arn(&bucket.name, &key),
                            &[],
                        )?;
                        Box::pin(self.upload_part(&bucket, &key, &query, body, plan)).await
                    }
                    Operation::CompleteMultipartUpload => {
                        call.authorize_bucket(
                            &bucket,
                            op.action(),
                            &object_arn(&bucket.name, &key),
                            &[],
                        )?;
                        Box::pin(self.complete_upload(&bucket, &key, &query, body, plan)).await
                    }
                    Operation::AbortMultipartUpload => {
                        call.authorize_bucket(
                            &bucket,
                            op.action(),
                            &object_arn(&bucket.name, &key),
                            &[],
                        )?;
                        let upload = self.upload_for(&bucket, &key, &query).await?;
                        self.store
                            .remove_upload(&bucket.name, &upload.upload_id)
                            .await
                            .map_err(store_error)?;
                        Ok(empty(StatusCode::NO_CONTENT))
                    }
                    Operation::ListParts => {
                        call.authorize_bucket(
                            &bucket,
                            op.action(),
                            &object_arn(&bucket.name, &key),
                            &[],
                        )?;
                        Box::pin(self.list_parts(&bucket, &key, &query)).await
                    }
                    Operation::ListMultipartUploads => {
                        call.authorize_bucket(
                            &bucket,
                            op.action(),
                            &bucket_arn(&bucket.name),
                            &[],
                        )?;
                        let uploads = self
                            .store
                            .list_uploads(&bucket.name)
                            .await
                            .map_err(store_error)?;
                        let mut doc = XmlWriter::new("ListMultipartUploadsResult");
                        doc.element("Bucket", &bucket.name)
                            .element("KeyMarker", "")
                            .element("UploadIdMarker", "")
                            .element("MaxUploads", "1000")
                            .element("IsTruncated", "false");
                        for upload in uploads.iter().take(1000) {
                            doc.open("Upload")
                                .element("Key", &upload.object.key)
                                .element("UploadId", &upload.upload_id)
                                .element("Initiated", &iso8601(upload.initiated))
                                .element("StorageClass", "STANDARD")
                                .close("Upload");
                        }
                        Ok(xml(
                            StatusCode::OK,
                            doc.finish("ListMultipartUploadsResult"),
                        ))
                    }
                    Operation::ListBuckets | Operation::CreateBucket => Err(S3Error::internal()),
                }
            }
        }
    }

    /// The bucket `name` with its parsed policy, from the cache while no
    /// bucket changed since it was read.
    async fn load_bucket(&self, name: &str) -> Result<Arc<Bucket>, S3Error> {
        // Read the generation before the files: a change after this point
        // moves it on, so a record read from older files is never reused.
        let generation = self.store.bucket_generation();
        if let Some(bucket) = self
            .buckets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .filter(|b| b.generation == generation)
        {
            return Ok(Arc::clone(bucket));
        }
        let Some((meta, policy_text)) = self
            .store
            .bucket_and_policy(name)
            .await
            .map_err(store_error)?
        else {
            self.buckets
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(name);
            return Err(S3Error::no_such_bucket(name));
        };
        let policy = match &policy_text {
            Some(text) => match Policy::parse(text, PolicyKind::Resource) {
                Ok(policy) => Some(policy),
                Err(error) => {
                    // Validated when set; a policy that no longer parses grants nothing.
                    tracing::warn!(%error, bucket = %name, "stored bucket policy no longer parses; ignored");
                    None
                }
            },
            None => None,
        };
        let bucket = Arc::new(Bucket {
            generation,
            name: name.to_owned(),
            meta,
            policy,
            policy_text,
        });
        self.buckets
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), Arc::clone(&bucket));
        Ok(bucket)
    }

    async fn list_buckets(&self, call: &Call<'_>) -> Result<Response<StreamingBody>, S3Error> {
        let Some(account) = call.principal.account_id() else {
            return Err(S3Error::access_denied());
        };
        call.authorize("s3:ListAllMyBuckets", "arn:aws:s3:::*", account, None, &[])?;
        let buckets = self.store.list_buckets().await.map_err(store_error)?;
        let mut doc = XmlWriter::new("ListAllMyBucketsResult");
        doc.open("Owner")
            .element("ID", account)
            .element("DisplayName", account)
            .close("Owner");
        doc.open("Buckets");
        for (name, meta) in buckets.iter().filter(|(_, m)| m.owner == account) {
            doc.open("Bucket")
                .element("Name", name)
                .element("CreationDate", &iso8601(meta.created))
                .close("Bucket");
        }
        doc.close("Buckets");
        Ok(xml(StatusCode::OK, doc.finish("ListAllMyBucketsResult")))
    }

    async fn create_bucket<B>(
        &self,
        call: &Call<'_>,
        bucket: &str,
        body: B,
        plan: BodyPlan,
    ) -> Result<Response<StreamingBody>, S3Error>
    where
        B: Body<Data = Bytes> + Send + Unpin,
        B::Error: std::fmt::Display,
    {
        let Some(account) = call.principal.account_id() else {
            return Err(S3Error::access_denied());
        };
        call.authorize("s3:CreateBucket", &bucket_arn(bucket), account, None, &[])?;
        // The optional CreateBucketConfiguration: read (and verify) it; any
        // LocationConstraint is accepted, the store has one region.
        let (document, _) = BodyReader::new(body, plan, MAX_DOCUMENT_BYTES)?
            .read_all()
            .await?;
        if !document.is_empty() {
            crate::xml::parse(&document)?;
        }
        if let Some(upstream) = &self.upstream {
            // The bucket is recorded here (owner, later its policy) and made upstream.
            self.store
                .create_bucket(bucket, account)
                .await
                .map_err(|e| match e {
                    StoreError::BucketExists { owner } if owner == account => S3Error::new(
                        "BucketAlreadyOwnedByYou",
                        409,
                        "Your previous request to create the named bucket succeeded and you already own it.",
                    ),
                    other => store_error(other),
                })
                .map_err(|e| e.with("BucketName", bucket))?;
            let response = upstream
                .forward::<http_body_util::Empty<Bytes>>(
                    &Method::PUT,
                    &format!("/{bucket}"),
                    "",
                    &HeaderMap::new(),
                    crate::upstream::ForwardBody::None,
                )
                .await;
            let ok = response
                .as_ref()
                .is_ok_and(|r| r.status().is_success() || r.status() == StatusCode::CONFLICT);
            if !ok && let Err(error) = self.store.delete_bucket(bucket).await {
                tracing::warn!(%error, "removing the local record of a bucket upstream refused failed");
            }
            return response;
        }
        match self.store.create_bucket(bucket, account).await {
            Ok(()) => {}
            Err(StoreError::BucketExists { owner }) if owner == account => {
                return Err(S3Error::new(
                    "BucketAlreadyOwnedByYou",
                    409,
                    "Your previous request to create the named bucket succeeded and you already own it.",
                )
                .with("BucketName", bucket));
            }
            Err(error) => return Err(store_error(error).with("BucketName", bucket)),
        }
        let mut response = empty(StatusCode::OK);
        if let Ok(location) = HeaderValue::from_str(&format!("/{bucket}")) {
            response
                .headers_mut()
                .insert(http::header::LOCATION, location);
        }
        Ok(response)
    }

    async fn put_bucket_policy<B>(
        &self,
        call: &Call<'_>,
        bucket: &Bucket,
        body: B,
        plan: BodyPlan,
    ) -> Result<Response<StreamingBody>, S3Error>
    where
        B: Body<Data = Bytes> + Send + Unpin,
        B::Error: std::fmt::Display,
    {
        call.authorize_bucket(bucket, "s3:PutBucketPolicy", &bucket_arn(&bucket.name), &[])?;
        let (document, _) = BodyReader::new(body, plan, MAX_DOCUMENT_BYTES)?
            .read_all()
            .await?;
        if document.len() > MAX_POLICY_BYTES {
            return Err(S3Error::new(
                "PolicyTooLarge",
                400,
                "Policies must be no larger than 20 KB",
            ));
        }
        let text = String::from_utf8(document)
            .map_err(|_| S3Error::new("MalformedPolicy", 400, "Policies must be valid JSON"))?;
        if let Err(error) = Policy::parse(&text, PolicyKind::Resource) {
            return Err(S3Error::new("MalformedPolicy", 400, error.to_string()));
        }
        self.store
            .put_policy(&bucket.name, &text)
            .await
            .map_err(store_error)?;
        Ok(empty(StatusCode::NO_CONTENT))
    }

    async fn list_objects_v2(
        &self,
        call: &Call<'_>,
        bucket: &Bucket,
        query: &Query,
    ) -> Result<Response<StreamingBody>, S3Error> {
        let prefix = query.get("prefix").unwrap_or("");
        let delimiter = query.get("delimiter").filter(|d| !d.is_empty());
        let max_keys = match query.get("max-keys") {
            None => 1000,
            Some(v) => v.parse::<usize>().map_err(|_| {
                S3Error::invalid_argument(
                    "Provided max-keys not an integer or within integer range",
                )
                .with("ArgumentName", "max-keys")
            })?,
        };
        let mut extra = vec![
            ("s3:prefix", vec![prefix.to_owned()]),
            ("s3:max-keys", vec![max_keys.to_string()]),
        ];
        if let Some(d) = delimiter {
            extra.push(("s3:delimiter", vec![d.to_owned()]));
        }
        call.authorize_bucket(bucket, "s3:ListBucket", &bucket_arn(&bucket.name), &extra)?;
        let max_keys = max_keys.min(1000);
        let encode = match query.get("encoding-type") {
            None => false,
            Some("url") => true,
            Some(_) => {
                return Err(S3Error::invalid_argument(
                    "Invalid Encoding Method specified in Request",
                )
                .with("ArgumentName", "encoding-type"));
            }
        };
        let token = match query.get("continuation-token") {
            Some(t) => Some(decode_token(t)?),
            None => None,
        };
        let start_after = query.get("start-after").unwrap_or("");
        let after = token
            .or_else(|| (!start_after.is_empty()).then(|| ListEntry::Key(start_after.to_owned())));
        let page = self
            .store
            .list_objects(
                &bucket.name,
                ListQuery {
                    prefix: prefix.to_owned(),
                    delimiter: delimiter.map(str::to_owned),
                    after,
                    max_keys,
                },
            )
            .await
            .map_err(store_error)?;
        let truncated = page.truncated;
        let contents = &page.contents;
        let prefixes = &page.common_prefixes;
        let enc = |s: &str| if encode { url_encode(s) } else { s.to_owned() };
        let mut doc = XmlWriter::new("ListBucketResult");
        doc.element("Name", &bucket.name)
            .element("Prefix", &enc(prefix))
            .element("MaxKeys", &max_keys.to_string())
            .element("KeyCount", &(contents.len() + prefixes.len()).to_string())
            .element("IsTruncated", if truncated { "true" } else { "false" });
        if let Some(d) = delimiter {
            doc.element("Delimiter", &enc(d));
        }
        if encode {
            doc.element("EncodingType", "url");
        }
        if let Some(t) = query.get("continuation-token") {
            doc.element("ContinuationToken", t);
        }
        if !start_after.is_empty() {
            doc.element("StartAfter", &enc(start_after));
        }
        if truncated && let Some(last) = &page.last {
            doc.element("NextContinuationToken", &encode_token(last));
        }
        for object in contents {
            doc.open("Contents")
                .element("Key", &enc(&object.key))
                .element("LastModified", &iso8601(object.last_modified))
                .element("ETag", &quoted(&object.etag))
                .element("Size", &object.size.to_string())
                .element("StorageClass", "STANDARD")
                .close("Contents");
        }
        for p in prefixes {
            doc.open("CommonPrefixes")
                .element("Prefix", &enc(p))
                .close("CommonPrefixes");
        }
        Ok(xml(StatusCode::OK, doc.finish("ListBucketResult")))
    }

    async fn delete_objects<B>(
        &self,
        call: &Call<'_>,
        bucket: &Bucket,
        body: B,
        plan: BodyPlan,
    ) -> Result<Response<StreamingBody>, S3Error>
    where
        B: Body<Data = Bytes> + Send + Unpin,
        B::Error: std::fmt::Display,
    {
        let (document, _) = BodyReader::new(body, plan, MAX_DOCUMENT_BYTES)?
            .read_all()
            .await?;
        let (keys, quiet) = crate::xml::parse_delete(&document)?;
        let mut doc = XmlWriter::new("DeleteResult");
        for key in keys {
            let outcome = match call.authorize_bucket(
                bucket,
                "s3:DeleteObject",
                &object_arn(&bucket.name, &key),
                &[],
            ) {
                Ok(()) => self
                    .store
                    .delete_object(&bucket.name, &key)
                    .await
                    .map_err(store_error),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(()) if quiet => {}
                Ok(()) => {
                    doc.open("Deleted").element("Key", &key).close("Deleted");
                }
                Err(e) => {
                    doc.open("Error")
                        .element("Key", &key)
                        .element("Code", e.code)
                        .element("Message", &e.message)
                        .close("Error");
                }
            }
        }
        Ok(xml(StatusCode::OK, doc.finish("DeleteResult")))
    }

    async fn put_object<B>(
        &self,
        call: &Call<'_>,
        bucket: &Bucket,
        key: &str,
        headers: &HeaderMap,
        body: B,
        plan: BodyPlan,
    ) -> Result<Response<StreamingBody>, S3Error>
    where
        B: Body<Data = Bytes> + Send + Unpin,
        B::Error: std::fmt::Display,
    {
        if key.is_empty() {
            return Err(S3Error::invalid_argument(
                "An object key must not be empty.",
            ));
        }
        call.authorize_bucket(bucket, "s3:PutObject", &object_arn(&bucket.name, key), &[])?;
        let reader = BodyReader::new(body, plan, self.config.max_object_bytes)?;
        // Every declared hash, checksum and signature is checked before the
        // object becomes visible; on failure the temp file is removed.
        let (pending, digests) = self.receive_object(reader).await?;
        let mut meta = object_meta_from_headers(key, headers)?;
        meta.size = digests.len;
        meta.etag = hex::encode(digests.md5);
        meta.last_modified = self.core.clock().unix_now();
        meta.checksum = digests.checksum.map(|(a, v)| (a.header().to_owned(), v));
        self.store
            .commit_object(pending, &bucket.name, &meta)
            .await
            .map_err(store_error)?;
        let mut response = empty(StatusCode::OK);
        let h = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&quoted(&meta.etag)) {
            h.insert(http::header::ETAG, v);
        }
        if let Some((name, value)) = &meta.checksum
            && let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            )
        {
            h.insert(n, v);
        }
        Ok(response)
    }

    /// The source bucket and key `x-amz-copy-source` names (any
    /// `?versionId=` dropped), once the caller may read that object and
    /// write `key` of `bucket`.
    async fn authorize_copy(
        &self,
        call: &Call<'_>,
        bucket: &Bucket,
        key: &str,
        headers: &HeaderMap,
    ) -> Result<(String, String), S3Error> {
        let missing = || {
            S3Error::invalid_argument(
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            )
        };
        let source = headers
            .get("x-amz-copy-source")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(missing)?;
        let source = source.split_once("?versionId=").map_or(source, |(s, _)| s);
        let decoded = percent_encoding::percent_decode_str(source.trim_start_matches('/'))
            .decode_utf8()
            .map_err(|_| S3Error::invalid_argument("Invalid copy source encoding"))?;
        let Some((src_bucket, src_key)) = decoded
            .split_once('/')
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        else {
            return Err(missing());
        };
        if !crate::store::valid_bucket_name(src_bucket) {
            return Err(S3Error::no_such_bucket(src_bucket));
        }
        let source_bucket = self.load_bucket(src_bucket).await?;
        call.authorize_bucket(
            &source_bucket,
            "s3:GetObject",
            &object_arn(src_bucket, src_key),
            &[],
        )?;
        call.authorize_bucket(bucket, "s3:PutObject", &object_arn(&bucket.name, key), &[])?;
        Ok((src_bucket.to_owned(), src_key.to_owned()))
    }

    async fn copy_object(
        &self,
        call: &Call<'_>,
        bucket: &Bucket,
        key: &str,
        headers: &HeaderMap,
    ) -> Result<Response<StreamingBody>, S3Error> {
        let (src_bucket, src_key) = self.authorize_copy(call, bucket, key, headers).await?;
        let (src_bucket, src_key) = (src_bucket.as_str(), src_key.as_str());
        // Everything that can refuse the request without the data, before
        // the data is copied.
        let replace = match headers
            .get("x-amz-metadata-directive")
            .and_then(|v| v.to_str().ok())
        {
            None | Some("COPY") => false,
            Some("REPLACE") => true,
            Some(_) => return Err(S3Error::invalid_argument("Unknown metadata directive.")),
        };
        if src_bucket == bucket.name && src_key == key && !replace {
            return Err(S3Error::invalid_request(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        let replaced_meta = if replace {
            Some(object_meta_from_headers(key, headers)?)
        } else {
            None
        };
        let Some((src_meta, pending)) = self
            .store
            .copy_object_data(src_bucket, src_key)
            .await
            .map_err(store_error)?
        else {
            return Err(S3Error::no_such_key(src_key));
        };
        let mut meta = replaced_meta.unwrap_or_else(|| ObjectMeta {
            key: key.to_owned(),
            ..src_meta.clone()
        });
        meta.key = key.to_owned();
        meta.size = src_meta.size;
        meta.etag.clone_from(&src_meta.etag);
        meta.checksum.clone_from(&src_meta.checksum);
        meta.last_modified = self.core.clock().unix_now();
        self.store
            .commit_object(pending, &bucket.name, &meta)
            .await
            .map_err(store_error)?;
        let mut doc = XmlWriter::new("CopyObjectResult");
        doc.element("LastModified", &iso8601(meta.last_modified))
            .element("ETag", &quoted(&meta.etag));
        Ok(xml(StatusCode::OK, doc.finish("CopyObjectResult")))
    }

    /// GetObject and HeadObject. Synchronous: the object is opened and a
    /// small one read on this thread ([`BuiltinStore::read_object`]); a
    /// larger one's data streams from the blocking pool. A multipart
    /// object replaced between reading its file and pinning its parts is
    /// read again.
    fn get_object(
        &self,
        bucket: &Bucket,
        key: &str,
        headers: &HeaderMap,
        query: &Query,
        head: bool,
    ) -> Result<Response<StreamingBody>, S3Error> {
        for _ in 0..READ_ATTEMPTS {
            if let Some(response) = self.get_object_once(bucket, key, headers, query, head)? {
                return Ok(response);
            }
        }
        Err(store_error(replaced_while_read()))
    }

    /// [`S3Gateway::get_object`]; `None` when a multipart object was
    /// replaced before its parts were pinned.
    fn get_object_once(
        &self,
        bucket: &Bucket,
        key: &str,
        headers: &HeaderMap,
        query: &Query,
        head: bool,
    ) -> Result<Option<Response<StreamingBody>>, S3Error> {
        let Some(StoredObject { meta, data }) = self
            .store
            .read_object(&bucket.name, key)
            .map_err(store_error)?
        else {
            return Err(S3Error::no_such_key(key));
        };
        if let Some(status) = check_conditions(headers, &meta)? {
            let mut response = empty(status);
            if let Ok(v) = HeaderValue::from_str(&quoted(&meta.etag)) {
                response.headers_mut().insert(http::header::ETAG, v);
            }
            return Ok(Some(response));
        }
        let range = match headers
            .get(http::header::RANGE)
            .and_then(|v| v.to_str().ok())
        {
            Some(value) => parse_range(value, meta.size)?,
            None => None,
        };
        let (start, len, status) = match range {
            Some((start, end)) => (start, end - start + 1, StatusCode::PARTIAL_CONTENT),
            None => (0, meta.size, StatusCode::OK),
        };
        let body = if head {
            response::full(Bytes::new())
        } else {
            match data {
                ObjectData::Inline(bytes) => {
                    let from = usize::try_from(start).map_err(|_| S3Error::internal())?;
                    let to = usize::try_from(start + len).map_err(|_| S3Error::internal())?;
                    if to > bytes.len() {
                        return Err(S3Error::internal());
                    }
                    response::full(bytes.slice(from..to))
                }
                ObjectData::File(file) => FileBody::new(
                    vec![(PartFile::Open(file), meta.size)],
                    start,
                    len,
                    Arc::clone(self.store.buffers()),
                )
                .boxed(),
                ObjectData::Parts(list) => {
                    let Some(pinned) = self
                        .store
                        .pin_parts(list, start..start.saturating_add(len))
                        .map_err(store_error)?
                    else {
                        return Ok(None);
                    };
                    FileBody::new(
                        pinned.files,
                        start.saturating_sub(pinned.first),
                        len,
                        Arc::clone(self.store.buffers()),
                    )
                    .boxed()
                }
            }
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        let h = response.headers_mut();
        // The fixed headers by their static names (no name parsing).
        h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
        if let Ok(v) = HeaderValue::from_str(&quoted(&meta.etag)) {
            h.insert(http::header::ETAG, v);
        }
        if let Ok(v) = HeaderValue::from_str(&http_date(meta.last_modified)) {
            h.insert(http::header::LAST_MODIFIED, v);
        }
        h.insert(
            http::header::ACCEPT_RANGES,
            HeaderValue::from_static("bytes"),
        );
        let content_type = match meta.content_type.as_deref() {
            None => Ok(HeaderValue::from_static("binary/octet-stream")),
            Some(value) => HeaderValue::from_str(value),
        };
        if let Ok(v) = content_type {
            h.insert(http::header::CONTENT_TYPE, v);
        }
        let mut set = |name: &str, value: &str| {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                h.insert(n, v);
            }
        };
        if let Some((start, end)) = range {
            set(
                "content-range",
                &format!("bytes {start}-{end}/{}", meta.size),
            );
        }
        for (name, value) in &meta.headers {
            set(name, value);
        }
        for (name, value) in &meta.user_metadata {
            set(&format!("x-amz-meta-{name}"), value);
        }
        let checksum_mode = headers
            .get("x-amz-checksum-mode")
            .and_then(|v| v.to_str().ok())
            == Some("ENABLED");
        if checksum_mode
            && range.is_none()
            && let Some((name, value)) = &meta.checksum
        {
            set(name, value);
        }
        for (param, header) in [
            ("response-content-type", "content-type"),
            ("response-content-disposition", "content-disposition"),
            ("response-cache-control", "cache-control"),
            ("response-content-encoding", "content-encoding"),
            ("response-content-language", "content-language"),
            ("response-expires", "expires"),
        ] {
            if let Some(value) = query.get(param) {
                set(header, value);
            }
        }
        Ok(Some(response))
    }
}

/// The query for the upstream request: the client's parameters without its
/// own SigV4 authentication parameters, each encoded as S3's canonical form.
fn upstream_query(raw: &str) -> String {
    let mut out = Vec::new();
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        if name.starts_with("X-Amz-") {
            continue;
        }
        out.push(format!(
            "{}={}",
            mayfly_sigv4::uri_encode(name.as_bytes(), false),
            mayfly_sigv4::uri_encode(value.as_bytes(), false)
        ));
    }
    out.join("&")
}

/// The decoded length of an upload: `x-amz-decoded-content-length` for
/// aws-chunked bodies, else `Content-Length` (S3 requires one).
fn decoded_length(headers: &HeaderMap) -> Result<u64, S3Error> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    get("x-amz-decoded-content-length")
        .or_else(|| get("content-length"))
        .ok_or_else(|| {
            S3Error::new(
                "MissingContentLength",
                411,
                "You must provide the Content-Length HTTP header.",
            )
        })
}

impl S3Gateway {
    /// Upstream mode: authorize as for the built-in store, then forward.
    #[allow(
        clippy::too_many_arguments,
        reason = "one request's parts, passed through"
    )]
    async fn serve_upstream<B>(
        &self,
        upstream: &crate::upstream::Upstream,
        call: &Call<'_>,
        op: Operation,
        bucket: &Bucket,
        key: &str,
        parts: &Parts,
        query: &Query,
        body: B,
        plan: BodyPlan,
    ) -> Result<Response<StreamingBody>, S3Error>
    where
        B: Body<Data = Bytes> + Send + Unpin,
        B::Error: std::fmt::Display,
    {
        use crate::upstream::ForwardBody;
        let bucket_path = format!("/{}", bucket.name);
        let object_path = format!(
            "/{}/{}",
            bucket.name,
            mayfly_sigv4::uri_encode(key.as_bytes(), true)
        );
        let raw_query = upstream_query(parts.uri.query().unwrap_or(""));
        let object_resource = object_arn(&bucket.name, key);
        let (path, forward_body) = match op {
            Operation::DeleteBucket => {
                call.authorize_bucket(bucket, op.action(), &bucket_arn(&bucket.name), &[])?;
                let response = upstream
                    .forward::<B>(
                        &parts.method,
                        &bucket_path,
                        &raw_query,
                        &parts.headers,
                        ForwardBody::None,
                    )
                    .await?;
                if response.status().is_success() {
                    self.store
                        .delete_bucket(&bucket.name)
                        .await
                        .map_err(store_error)?;
                }
                return Ok(response);
            }
            Operation::ListObjectsV2 => {
                let mut extra = vec![(
                    "s3:prefix",
                    vec![query.get("prefix").unwrap_or("").to_owned()],
                )];
                if let Some(d) = query.get("delimiter").filter(|d| !d.is_empty()) {
                    extra.push(("s3:delimiter", vec![d.to_owned()]));
                }
                if let Some(m) = query.get("max-keys") {
                    extra.push(("s3:max-keys", vec![m.to_owned()]));
                }
                call.authorize_bucket(bucket, op.action(), &bucket_arn(&bucket.name), &extra)?;
                (bucket_path, ForwardBody::None)
            }
            Operation::ListMultipartUploads => {
                call.authorize_bucket(bucket, op.action(), &bucket_arn(&bucket.name), &[])?;
                (bucket_path, ForwardBody::None)
            }
            Operation::DeleteObjects => {
                let (document, _) = BodyReader::new(body, plan, MAX_DOCUMENT_BYTES)?
                    .read_all()
                    .await?;
                let (keys, _) = crate::xml::parse_delete(&document)?;
                for k in &keys {
                    call.authorize_bucket(bucket, op.action(), &object_arn(&bucket.name, k), &[])?;
                }
                (bucket_path, ForwardBody::Bytes(Bytes::from(document)))
            }
            Operation::CompleteMultipartUpload => {
                call.authorize_bucket(bucket, op.action(), &object_resource, &[])?;
                let (document, _) = BodyReader::new(body, plan, MAX_DOCUMENT_BYTES)?
                    .read_all()
                    .await?;
                crate::xml::parse_complete(&document)?;
                (object_path, ForwardBody::Bytes(Bytes::from(document)))
            }
            Operation::PutObject | Operation::UploadPart => {
                if key.is_empty() {
                    return Err(S3Error::invalid_argument(
                        "An object key must not be empty.",
                    ));
                }
                call.authorize_bucket(bucket, op.action(), &object_resource, &[])?;
                let len = decoded_length(&parts.headers)?;
                let reader = BodyReader::new(body, plan, self.config.max_object_bytes)?;
                (object_path, ForwardBody::Stream(Box::new(reader), len))
            }
            Operation::CopyObject => {
                self.authorize_copy(call, bucket, key, &parts.headers)
                    .await?;
                (object_path, ForwardBody::None)
            }
            Operation::GetObject
            | Operation::HeadObject
            | Operation::DeleteObject
            | Operation::CreateMultipartUpload
            | Operation::AbortMultipartUpload
            | Operation::ListParts => {
                call.authorize_bucket(bucket, op.action(), &object_resource, &[])?;
                (object_path, ForwardBody::None)
            }
            Operation::ListBuckets
            | Operation::CreateBucket
            | Operation::HeadBucket
            | Operation::GetBucketLocation
            | Operation::GetBucketPolicy
            | Operation::PutBucketPolicy
            | Operation::DeleteBucketPolicy => return Err(S3Error::internal()),
        };
        upstream
            .forward(
                &parts.method,
                &path,
                &raw_query,
                &parts.headers,
                forward_body,
            )
            .await
    }
}

/// Smallest part (all but the last) of a multipart upload, as S3.
const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// Largest part.
const MAX_PART_BYTES: u64 = 5 * 1024 * 1024 * 1024;

impl S3Gateway {
    /// Read an upload's body into a new (uncommitted) object, hashing on a
    /// thread of its own ([`UploadSink`]), and check every declared value.
    async fn receive_object<B>(
        &self,
        mut reader: BodyReader<B>,
    ) -> Result<(crate::store::PendingObject, crate::checksum::Digests), S3Error>
    where
        B: Body<Data = Bytes> + Send + Unpin,
        B::Error: std::fmt::Display,
    {
        let digests = reader.detach_digests().ok_or_else(S3Error::internal)?;
        let mut sink = UploadSink::new(&self.store, digests).map_err(store_error)?;
        while let Some(data) = reader.next().await? {
            sink.write(data).await.map_err(store_error)?;
        }
        let (pending, digests) = sink.finish().await.map_err(store_error)?;
        let digests = reader.finish_with(digests)?;
        Ok((pending, digests))
    }

    /// The upload named by `uploadId`, which must be for `key`.
    async fn upload_for(
        &self,
        bucket: &Bucket,
        key: &str,
        query: &Query,
    ) -> Result<crate::store::UploadMeta, S3Error> {
        let id = query.get("uploadId").unwrap_or("");
        let upload = self
            .store
            .upload(&bucket.name, id)
            .await
            .map_err(store_error)?;
        if upload.object.key != key {
            return Err(store_error(StoreError::NoSuchUpload));
        }
        Ok(upload)
    }

    async fn upload_part<B>(
        &self,
        bucket: &Bucket,
        key: &str,
        query: &Query,
        body: B,
        plan: BodyPlan,
    ) -> Result<Response<StreamingBody>, S3Error>
    where
        B: Body<Data = Bytes> + Send + Unpin,
        B::Error: std::fmt::Display,
    {
        let number = query
            .get("partNumber")
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| {
                S3Error::invalid_argument(
                    "Part number must be an integer between 1 and 10000, inclusive",
                )
                .with("ArgumentName", "partNumber")
            })?;
        let upload = self.upload_for(bucket, key, query).await?;
        let reader = BodyReader::new(body, plan, MAX_PART_BYTES)?;
        let (pending, digests) = self.receive_object(reader).await?;
        let meta = ObjectMeta {
            key: key.to_owned(),
            size: digests.len,
            etag: hex::encode(digests.md5),
            last_modified: self.core.clock().unix_now(),
            checksum: digests.checksum.map(|(a, v)| (a.header().to_owned(), v)),
            ..ObjectMeta::default()
        };
        self.store
            .commit_part(pending, &bucket.name, &upload.upload_id, number, &meta)
            .await
            .map_err(store_error)?;
        let mut response = empty(StatusCode::OK);
        if let Ok(v) = HeaderValue::from_str(&quoted(&meta.etag)) {
            response.headers_mut().insert(http::header::ETAG, v);
        }
        if let Some((name, value)) = &meta.checksum
            && let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            )
        {
            response.headers_mut().insert(n, v);
        }
        Ok(response)
    }

    async fn complete_upload<B>(
        &self,
        bucket: &Bucket,
        key: &str,
        query: &Query,
        body: B,
        plan: BodyPlan,
    ) -> Result<Response<StreamingBody>, S3Error>
    where
        B: Body<Data = Bytes> + Send + Unpin,
        B::Error: std::fmt::Display,
    {
        let upload = self.upload_for(bucket, key, query).await?;
        let (document, _) = BodyReader::new(body, plan, MAX_DOCUMENT_BYTES)?
            .read_all()
            .await?;
        let requested = crate::xml::parse_complete(&document)?;
        if requested.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(S3Error::new(
                "InvalidPartOrder",
                400,
                "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
            ));
        }
        let stored = self
            .store
            .list_parts(&bucket.name, &upload.upload_id)
            .await
            .map_err(store_error)?;
        let invalid_part = || {
            S3Error::new(
                "InvalidPart",
                400,
                "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
            )
        };
        let mut chosen = Vec::with_capacity(requested.len());
        for (i, (number, etag)) in requested.iter().enumerate() {
            let (_, meta) = stored
                .iter()
                .find(|(n, _)| n == number)
                .ok_or_else(invalid_part)?;
            if meta.etag != *etag {
                return Err(invalid_part());
            }
            if i + 1 < requested.len() && meta.size < MIN_PART_BYTES {
                return Err(S3Error::new(
                    "EntityTooSmall",
                    400,
                    "Your proposed upload is smaller than the minimum allowed object size.",
                ));
            }
            chosen.push((*number, meta.clone()));
        }
        let mut md5s = Vec::with_capacity(16 * chosen.len());
        for (_, meta) in &chosen {
            md5s.extend_from_slice(&hex::decode(&meta.etag).map_err(|_| S3Error::internal())?);
        }
        let mut meta = upload.object.clone();
        meta.key = key.to_owned();
        meta.etag = multipart_etag(&md5s, chosen.len());
        meta.last_modified = self.core.clock().unix_now();
        meta.checksum = None;
        // The parts become the object's data where they are: no copy.
        self.store
            .complete_upload(
                &bucket.name,
                &upload.upload_id,
                chosen.iter().map(|(n, meta)| (*n, meta.size)).collect(),
                &meta,
            )
            .await
            .map_err(store_error)?;
        let mut doc = XmlWriter::new("CompleteMultipartUploadResult");
        doc.element("Location", &format!("/{}/{key}", bucket.name))
            .element("Bucket", &bucket.name)
            .element("Key", key)
            .element("ETag", &quoted(&meta.etag));
        Ok(xml(
            StatusCode::OK,
            doc.finish("CompleteMultipartUploadResult"),
        ))
    }

    async fn list_parts(
        &self,
        bucket: &Bucket,
        key: &str,
        query: &Query,
    ) -> Result<Response<StreamingBody>, S3Error> {
        let upload = self.upload_for(bucket, key, query).await?;
        let parts = self
            .store
            .list_parts(&bucket.name, &upload.upload_id)
            .await
            .map_err(store_error)?;
        let marker = query
            .get("part-number-marker")
            .and_then(|m| m.parse::<u32>().ok())
            .unwrap_or(0);
        let max = query
            .get("max-parts")
            .and_then(|m| m.parse::<usize>().ok())
            .unwrap_or(1000)
            .min(1000);
        let after: Vec<&(u32, ObjectMeta)> = parts.iter().filter(|(n, _)| *n > marker).collect();
        let truncated = after.len() > max;
        let page = &after[..after.len().min(max)];
        let mut doc = XmlWriter::new("ListPartsResult");
        doc.element("Bucket", &bucket.name)
            .element("Key", key)
            .element("UploadId", &upload.upload_id)
            .element("PartNumberMarker", &marker.to_string())
            .element("MaxParts", &max.to_string())
            .element("IsTruncated", if truncated { "true" } else { "false" });
        if let Some((last, _)) = page.last() {
            doc.element("NextPartNumberMarker", &last.to_string());
        }
        doc.element("StorageClass", "STANDARD");
        for (number, meta) in page {
            doc.open("Part")
                .element("PartNumber", &number.to_string())
                .element("LastModified", &iso8601(meta.last_modified))
                .element("ETag", &quoted(&meta.etag))
                .element("Size", &meta.size.to_string())
                .close("Part");
        }
        Ok(xml(StatusCode::OK, doc.finish("ListPartsResult")))
    }
}

/// S3's multipart ETag: hex MD5 of the concatenated binary part MD5s, `-N`.
fn multipart_etag(md5s: &[u8], parts: usize) -> String {
    let digest = mayfly_md5::Md5::digest(md5s);
    format!("{}-{parts}", hex::encode(digest))
}

/// The plan for reading this request's body: the declared payload hash
/// (anonymous requests: the header, unsigned forms only).
fn body_plan(headers: &HeaderMap, verified: Option<&Verified>) -> Result<BodyPlan, S3Error> {
    match verified {
        Some(v) => {
            let payload = v.authentication.payload_hash();
            let chain = matches!(
                payload,
                Some(PayloadHash::StreamingSigned | PayloadHash::StreamingSignedTrailer)
            )
            .then(|| ChainKey {
                key: v.signing_key.clone(),
                amz_date: v.authentication.amz_date().to_owned(),
                scope: v.authentication.scope().clone(),
                seed: v.authentication.seed_signature(),
            });
            BodyPlan::new(headers, payload, chain)
        }
        None => {
            let payload = match headers
                .get("x-amz-content-sha256")
                .and_then(|v| v.to_str().ok())
            {
                None => None,
                Some(value) => match PayloadHash::parse(value) {
                    Some(
                        p @ (PayloadHash::Sha256(_)
                        | PayloadHash::Unsigned
                        | PayloadHash::StreamingUnsignedTrailer),
                    ) => Some(p),
                    _ => return Err(S3Error::access_denied()),
                },
            };
            BodyPlan::new(headers, payload, None)
        }
    }
}

/// Stored entity headers and user metadata from a PutObject/CopyObject(REPLACE).
fn object_meta_from_headers(key: &str, headers: &HeaderMap) -> Result<ObjectMeta, S3Error> {
    let mut meta = ObjectMeta {
        key: key.to_owned(),
        ..ObjectMeta::default()
    };
    let mut user_bytes = 0usize;
    for (name, value) in headers {
        let name = name.as_str();
        let Ok(value) = value.to_str() else {
            continue;
        };
        if let Some(user) = name.strip_prefix("x-amz-meta-") {
            user_bytes += user.len() + value.len();
            meta.user_metadata.push((user.to_owned(), value.to_owned()));
            continue;
        }
        match name {
            "content-type" => meta.content_type = Some(value.to_owned()),
            "content-encoding" => {
                // aws-chunked is transport framing, not a property of the object.
                let kept: Vec<&str> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.eq_ignore_ascii_case("aws-chunked") && !t.is_empty())
                    .collect();
                if !kept.is_empty() {
                    meta.headers.push((name.to_owned(), kept.join(",")));
                }
            }
            "cache-control" | "content-disposition" | "content-language" | "expires" => {
                meta.headers.push((name.to_owned(), value.to_owned()));
            }
            _ => {}
        }
    }
    if user_bytes > 2048 {
        return Err(S3Error::new(
            "MetadataTooLarge",
            400,
            "Your metadata headers exceed the maximum allowed metadata size.",
        ));
    }
    Ok(meta)
}

/// The conditional headers (RFC 7232 as S3 applies them): `Some(status)`
/// when the request must be answered with 304 or 412 instead.
fn check_conditions(headers: &HeaderMap, meta: &ObjectMeta) -> Result<Option<StatusCode>, S3Error> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let etag_matches = |list: &str| {
        list.split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.trim_matches('"') == meta.etag)
    };
    let precondition_failed = || {
        S3Error::new(
            "PreconditionFailed",
            412,
            "At least one of the pre-conditions you specified did not hold",
        )
        .with("Condition", "If-Match")
    };
    let if_match = get("if-match");
    if let Some(list) = if_match
        && !etag_matches(list)
    {
        return Err(precondition_failed());
    }
    if if_match.is_none()
        && let Some(since) = get("if-unmodified-since").and_then(response::parse_http_date)
        && meta.last_modified > since
    {
        return Err(precondition_failed().with("Condition", "If-Unmodified-Since"));
    }
    let if_none_match = get("if-none-match");
    if let Some(list) = if_none_match
        && etag_matches(list)
    {
        return Ok(Some(StatusCode::NOT_MODIFIED));
    }
    if if_none_match.is_none()
        && let Some(since) = get("if-modified-since").and_then(response::parse_http_date)
        && meta.last_modified <= since
    {
        return Ok(Some(StatusCode::NOT_MODIFIED));
    }
    Ok(None)
}

/// A single `bytes=` range: `Some((first, last))` inclusive, `None` to
/// serve the whole object (syntax S3 ignores), `InvalidRange` when unsatisfiable.
pub(crate) fn parse_range(value: &str, size: u64) -> Result<Option<(u64, u64)>, S3Error> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let invalid = || {
        S3Error::new(
            "InvalidRange",
            416,
            "The requested range is not satisfiable",
        )
        .with("RangeRequested", value)
        .with("ActualObjectSize", size.to_string())
    };
    let range = match (first.trim(), last.trim()) {
        ("", "") => return Ok(None),
        ("", suffix) => {
            let Ok(n) = suffix.parse::<u64>() else {
                return Ok(None);
            };
            if n == 0 || size == 0 {
                return Err(invalid());
            }
            (size.saturating_sub(n), size - 1)
        }
        (start, end) => {
            let Ok(start) = start.parse::<u64>() else {
                return Ok(None);
            };
            let end = if end.is_empty() {
                u64::MAX
            } else {
                match end.parse::<u64>() {
                    Ok(e) if e >= start => e,
                    _ => return Ok(None),
                }
            };
            if start >= size {
                return Err(invalid());
            }
            (start, end.min(size - 1))
        }
    };
    Ok(Some(range))
}

/// The continuation token after `last`: base64url of the key, or for a
/// common prefix of a byte UTF-8 never contains (0xFF) then the prefix, so
/// that the next page skips everything under it and nothing else.
fn encode_token(last: &ListEntry) -> String {
    use base64::Engine;
    let bytes = match last {
        ListEntry::Key(key) => key.as_bytes().to_vec(),
        ListEntry::CommonPrefix(prefix) => {
            let mut bytes = Vec::with_capacity(prefix.len() + 1);
            bytes.push(COMMON_PREFIX_TOKEN);
            bytes.extend_from_slice(prefix.as_bytes());
            bytes
        }
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Marks a continuation token naming a common prefix.
const COMMON_PREFIX_TOKEN: u8 = 0xFF;

fn decode_token(token: &str) -> Result<ListEntry, S3Error> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .ok();
    let entry = bytes.and_then(|bytes| match bytes.split_first() {
        Some((&COMMON_PREFIX_TOKEN, prefix)) => String::from_utf8(prefix.to_vec())
            .ok()
            .map(ListEntry::CommonPrefix),
        _ => String::from_utf8(bytes).ok().map(ListEntry::Key),
    });
    entry.ok_or_else(|| {
        S3Error::invalid_argument("The continuation token provided is incorrect")
            .with("ArgumentName", "continuation-token")
    })
}

fn url_encode(text: &str) -> String {
    mayfly_sigv4::uri_encode(text.as_bytes(), true)
}

impl mayfly_server::StreamingHandler for S3Gateway {
    async fn handle(
        &self,
        request: Request<hyper::body::Incoming>,
        connection: mayfly_server::Connection,
    ) -> Response<StreamingBody> {
        S3Gateway::handle(self, request, connection.peer.ip(), connection.secure).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100).unwrap(), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range("bytes=0-1000", 100).unwrap(), Some((0, 99)));
        assert_eq!(
            parse_range("bytes=100-", 100).unwrap_err().code,
            "InvalidRange"
        );
        assert_eq!(parse_range("bytes=0-1,5-6", 100).unwrap(), None);
        assert_eq!(parse_range("items=0-1", 100).unwrap(), None);
    }

    #[test]
    fn conditions() {
        let meta = ObjectMeta {
            etag: "abc".into(),
            last_modified: 1_705_320_000,
            ..ObjectMeta::default()
        };
        let mut h = HeaderMap::new();
        h.insert("if-none-match", HeaderValue::from_static("\"abc\""));
        assert_eq!(
            check_conditions(&h, &meta).unwrap(),
            Some(StatusCode::NOT_MODIFIED)
        );
        let mut h = HeaderMap::new();
        h.insert("if-match", HeaderValue::from_static("\"other\""));
        assert_eq!(
            check_conditions(&h, &meta).unwrap_err().code,
            "PreconditionFailed"
        );
        let mut h = HeaderMap::new();
        h.insert(
            "if-modified-since",
            HeaderValue::from_static("Mon, 15 Jan 2024 12:00:00 GMT"),
        );
        assert_eq!(
            check_conditions(&h, &meta).unwrap(),
            Some(StatusCode::NOT_MODIFIED)
        );
        let mut h = HeaderMap::new();
        h.insert(
            "if-unmodified-since",
            HeaderValue::from_static("Mon, 15 Jan 2024 11:00:00 GMT"),
        );
        assert_eq!(
            check_conditions(&h, &meta).unwrap_err().code,
            "PreconditionFailed"
        );
    }

    #[test]
    fn multipart_etag_is_md5_of_md5s() {
        // Two parts "a" and "b": md5 of (md5("a") || md5("b")).
        let mut md5s = Vec::new();
        md5s.extend_from_slice(&mayfly_md5::Md5::digest(b"a"));
        md5s.extend_from_slice(&mayfly_md5::Md5::digest(b"b"));
        let etag = multipart_etag(&md5s, 2);
        assert!(etag.ends_with("-2"));
        assert_eq!(etag.len(), 34);
    }

    #[test]
    fn tokens_round_trip() {
        for entry in [
            ListEntry::Key("a/b ü".into()),
            ListEntry::Key(String::new()),
            ListEntry::CommonPrefix("a/".into()),
        ] {
            assert_eq!(decode_token(&encode_token(&entry)).unwrap(), entry);
        }
        assert_eq!(decode_token("!!").unwrap_err().code, "InvalidArgument");
        // Not UTF-8 after the marker.
        let bad = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            [0xFF, 0xFE],
        );
        assert_eq!(decode_token(&bad).unwrap_err().code, "InvalidArgument");
    }
}
