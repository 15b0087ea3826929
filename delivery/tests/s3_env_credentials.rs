//! The S3 backend takes credentials and the endpoint from the standard AWS environment
//! variables when the spec has none. Alone in its own test binary because it sets process
//! environment variables, which must happen before any other thread runs.

mod support;

use bytes::Bytes;
use quire_delivery::{S3Spec, StoreSpec, open_store};

#[test]
fn credentials_and_endpoint_from_the_environment() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(support::s3::S3Server::start());
    // SAFETY: this binary has a single test and no other thread reads the environment yet.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", support::s3::ACCESS_KEY);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", support::s3::SECRET_KEY);
        std::env::remove_var("AWS_SESSION_TOKEN");
        std::env::set_var("AWS_ENDPOINT_URL_S3", server.spec.endpoint.clone().unwrap());
    }
    let spec = S3Spec {
        endpoint: None,
        access_key_id: None,
        secret_access_key: None,
        ..server.spec.clone()
    };
    let store = open_store(&StoreSpec::S3(spec.clone())).unwrap();
    runtime.block_on(async {
        let key = store
            .put_bytes(Bytes::from_static(b"from env"))
            .await
            .unwrap();
        assert_eq!(
            store
                .get(&key.sha256)
                .await
                .unwrap()
                .to_vec()
                .await
                .unwrap(),
            b"from env"
        );
    });

    // A wrong secret in the environment is refused by the server's signature check.
    unsafe { std::env::set_var("AWS_SECRET_ACCESS_KEY", "wrong") };
    let store = open_store(&StoreSpec::S3(spec)).unwrap();
    let err = runtime
        .block_on(store.put_bytes(Bytes::from_static(b"x")))
        .unwrap_err();
    assert_eq!(err.code(), "delivery.store.s3", "{err}");
}
