//! The device model: a graph on a device with one weight store that every program built on it
//! shares. A weight is computed (layout, modification) and uploaded the first time a program
//! asks for its key, and never again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::executable::upload;
use super::Gpu;
use crate::error::{Error, Result};
use crate::model::Graph;
use crate::plan::{DeviceProfile, WeightKey};

/// A model loaded onto a device. Cheap to clone: clones share the device and the weights.
#[derive(Clone)]
pub struct DeviceModel {
    gpu: Gpu,
    graph: Arc<Graph>,
    store: Arc<Mutex<Store>>,
}

#[derive(Default)]
struct Store {
    buffers: HashMap<WeightKey, Arc<wgpu::Buffer>>,
    bytes: u64,
}

impl DeviceModel {
    /// Puts `graph` on `gpu`; weights are uploaded as programs ask for them.
    pub fn new(gpu: &Gpu, graph: Graph) -> Self {
        DeviceModel {
            gpu: gpu.clone(),
            graph: Arc::new(graph),
            store: Arc::new(Mutex::new(Store::default())),
        }
    }

    /// The same graph (shared, not copied) on `gpu`, with a weight store of its own: to time or
    /// test other kernel choices of one device without copying a large model.
    pub fn on(&self, gpu: &Gpu) -> Self {
        DeviceModel {
            gpu: gpu.clone(),
            graph: self.graph.clone(),
            store: Arc::new(Mutex::new(Store::default())),
        }
    }

    /// The device.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// What recording a program for this device needs to know.
    pub fn profile(&self) -> DeviceProfile {
        self.gpu.profile()
    }

    /// The graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The buffer of one weight, uploaded on first use.
    pub fn weight(&self, key: &WeightKey) -> Result<Arc<wgpu::Buffer>> {
        if let Some(b) = lock(&self.store).buffers.get(key) {
            return Ok(b.clone());
        }
        let node = self.graph.nodes.get(key.node).ok_or_else(|| {
            Error::Invalid(format!("weight of node {} which the model lacks", key.node))
        })?;
        let data = node
            .op
            .layer()
            .parameter(key.param, key.modifier)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "node '{}' ({}) has no parameter {:?}",
                    node.name,
                    node.op.kind(),
                    key.param
                ))
            })?;
        let name = format!("{}.{:?} ({:?})", node.name, key.param, key.modifier);
        let buffer = Arc::new(upload(&self.gpu, &name, &data)?);
        let mut store = lock(&self.store);
        if let Some(b) = store.buffers.get(key) {
            return Ok(b.clone());
        }
        store.bytes += buffer.size();
        store.buffers.insert(*key, buffer.clone());
        Ok(buffer)
    }

    /// Bytes of all weights uploaded so far.
    pub fn weight_bytes(&self) -> u64 {
        lock(&self.store).bytes
    }

    /// Number of weight buffers uploaded so far.
    pub fn weight_count(&self) -> usize {
        lock(&self.store).buffers.len()
    }
}

/// Locks a mutex, recovering from poisoning (the store holds no invariant a panic could break).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
