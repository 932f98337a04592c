use super::*;
use crate::model::{FastNet, GraphBuffers};
use fastnet_mesh::{GraphConfig, MeshHierarchy};
use tch::{nn::VarStore, Device, Tensor};

fn v1_1_dims() -> GraphDims {
    GraphDims {
        mesh_nodes: 10_242,
        node_features: 2,
        edges: [80_640, 81_900, 120_960],
        edge_features: [2, 2, 2],
    }
}

fn infos(map: &BTreeMap<String, Vec<i64>>) -> Vec<TensorInfo> {
    map.iter()
        .map(|(n, s)| TensorInfo {
            name: n.clone(),
            dtype: if n.contains("_edge_index.") {
                "I64"
            } else {
                "F32"
            }
            .into(),
            shape: s.clone(),
        })
        .collect()
}

#[test]
fn the_layout_is_our_networks_names_and_shapes() {
    // independent check of expected_*: the variables of our FastNet
    // built for the same widths and graph
    let grid = Grid::from_spec("latlon-nopoles:8x16").unwrap();
    let graph = fastnet_mesh::Graph::build(&grid, &GraphConfig::fastnet(1)).unwrap();
    let cfg = ModelConfig {
        hidden: 12,
        processor_layers: 3,
        forecast_channels: 5,
        nonforecast_channels: 2,
    };
    let vs = VarStore::new(Device::Cpu);
    let buffers = GraphBuffers::from_graph(&graph);
    FastNet::new(&vs.root(), &cfg, &buffers).unwrap();
    let ours: BTreeMap<String, Vec<i64>> = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (n, t.size()))
        .collect();
    let dims = GraphDims {
        mesh_nodes: graph.mesh_nodes() as i64,
        node_features: graph.mesh_feature_dim as i64,
        edges: [&graph.encoder, &graph.mesh, &graph.decoder].map(|s| s.len() as i64),
        edge_features: [&graph.encoder, &graph.mesh, &graph.decoder].map(|s| s.feature_dim as i64),
    };
    let mut expected = expected_parameters(&cfg, &dims);
    expected.extend(expected_buffers(&dims));
    assert_eq!(expected, ours);
    // and the widths come back from the shapes
    let layout = infer_layout(&infos(&expected), Path::new("w")).unwrap();
    assert_eq!(layout.model, cfg);
    assert_eq!(layout.graph, dims);
    let trainable: i64 = vs
        .trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum();
    assert_eq!(layout.parameters, trainable);
}

#[test]
fn v1_1_shapes_give_the_published_counts() {
    // DESIGN.md §7: 62,236,488 parameters, 1,154,484 buffer values
    let dims = v1_1_dims();
    let mut all = expected_parameters(&ModelConfig::default(), &dims);
    all.extend(expected_buffers(&dims));
    let layout = infer_layout(&infos(&all), Path::new("model.safetensors")).unwrap();
    assert_eq!(layout.model, ModelConfig::default());
    assert_eq!(layout.parameters, 62_236_488);
    assert_eq!(
        (layout.buffer_values, dims.values()),
        (1_154_484, 1_154_484)
    );
    let fit = fit_grid(
        &dims,
        &Grid::octahedral(96).unwrap(),
        Some(5),
        Path::new("m"),
    )
    .unwrap();
    assert_eq!(
        (
            fit.grid_points,
            fit.encoder_per_point,
            fit.decoder_per_point,
            fit.mesh_level
        ),
        (40_320, 2, 3, Some(5))
    );
    // level 6 is not what the buffers hold
    let e = fit_grid(
        &dims,
        &Grid::octahedral(96).unwrap(),
        Some(6),
        Path::new("m"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("40962"), "{e}");
    // O320 has 421,120 points: 80,640 edges are not a whole number per point
    let e = fit_grid(&dims, &Grid::octahedral(320).unwrap(), None, Path::new("m")).unwrap_err();
    assert!(
        matches!(&e, ImportError::GraphGrid { buffer, .. } if buffer == "encoder_edge_index.0"),
        "{e}"
    );
}

#[test]
fn wrong_missing_or_extra_tensors_are_named() {
    let dims = v1_1_dims();
    let mut all = expected_parameters(&ModelConfig::default(), &dims);
    all.extend(expected_buffers(&dims));
    let p = Path::new("w");
    let mut t = infos(&all);
    t.retain(|x| x.name != "processor.interaction_nets.7.target_mlp.layers.4.bias");
    let e = infer_layout(&t, p).unwrap_err();
    assert!(
        matches!(&e, ImportError::MissingTensor { name, .. } if name.ends_with("7.target_mlp.layers.4.bias")),
        "{e}"
    );
    let mut t = infos(&all);
    t.push(TensorInfo {
        name: "normaliser.mean".into(),
        dtype: "F32".into(),
        shape: vec![84],
    });
    let e = infer_layout(&t, p).unwrap_err();
    assert!(
        matches!(&e, ImportError::UnexpectedTensor { name, .. } if name == "normaliser.mean"),
        "{e}"
    );
    let mut t = infos(&all);
    let k = t
        .iter()
        .position(|x| x.name == "decoder.interaction_net.edge_mlp.layers.0.weight")
        .unwrap();
    t[k].shape = vec![768, 771];
    let e = infer_layout(&t, p).unwrap_err();
    assert!(
        matches!(&e, ImportError::BadTensor { name, .. } if name.starts_with("decoder.interaction_net")),
        "{e}"
    );
    let mut t = infos(&all);
    let k = t
        .iter()
        .position(|x| x.name == "mesh_edge_index.0")
        .unwrap();
    t[k].dtype = "F32".into();
    let e = infer_layout(&t, p).unwrap_err();
    assert!(e.to_string().contains("int64"), "{e}");
}

#[test]
fn multimesh_counts_are_the_mesh_crates() {
    for r in 0..=4 {
        let h = MeshHierarchy::new(r).unwrap();
        let n = fastnet_mesh::multimesh::multimesh_edges(&h).len() as i64;
        assert_eq!(multimesh_edges(r), n, "level {r}");
        assert_eq!(icosahedral_level(h.vertices.len() as i64), Some(r));
    }
    assert_eq!(multimesh_edges(5), 81_900);
    assert_eq!(icosahedral_level(10_242), Some(5));
    assert_eq!(icosahedral_level(10_243), None);
}

#[test]
fn edge_indices_are_checked_for_range_and_per_point_counts() {
    let p = Path::new("w");
    // 3 grid points, 2 mesh nodes, 2 edges per point
    let flat = [0, 0, 0, 1, 1, 0, 1, 1, 2, 0, 2, 1];
    let (out, inc) = check_edge_index(p, "encoder_edge_index.0", &flat, 3, 2).unwrap();
    assert_eq!((out, inc), (vec![2, 2, 2], vec![3, 3]));
    check_per_point(p, "encoder_edge_index.0", &[2, 2, 2], 2, "sends").unwrap();
    let e = check_per_point(p, "encoder_edge_index.0", &[2, 1, 3], 2, "sends").unwrap_err();
    assert!(e.to_string().contains("grid point 1 sends 1 edges"), "{e}");
    let e = check_edge_index(p, "decoder_edge_index.0", &[0, 3], 2, 3).unwrap_err();
    assert!(
        e.to_string().contains("(0, 3)") && e.to_string().contains("0..3"),
        "{e}"
    );
    assert!(check_edge_index(p, "x", &[-1, 0], 2, 3).is_err());
}

#[test]
fn headers_are_read_without_the_data_and_bad_files_refused() {
    let dir = std::env::temp_dir().join(format!("fastnet-import-header-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ok = dir.join("ok.safetensors");
    let t = Tensor::from_slice(&[1f32, 2., 3., 4., 5., 6.]).view([2, 3]);
    let i = Tensor::from_slice(&[0i64, 1]).view([1, 2]);
    Tensor::write_safetensors(&[("a.weight", &t), ("b_edge_index.0", &i)], &ok).unwrap();
    let h = read_header(&ok).unwrap();
    assert_eq!(
        h,
        vec![
            TensorInfo {
                name: "a.weight".into(),
                dtype: "F32".into(),
                shape: vec![2, 3]
            },
            TensorInfo {
                name: "b_edge_index.0".into(),
                dtype: "I64".into(),
                shape: vec![1, 2]
            },
        ]
    );
    // truncated: the last tensor ends past the file
    let bytes = std::fs::read(&ok).unwrap();
    let cut = dir.join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() - 4]).unwrap();
    let e = read_header(&cut).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
    let junk = dir.join("junk.safetensors");
    std::fs::write(&junk, b"not a safetensors file at all").unwrap();
    assert!(matches!(
        read_header(&junk),
        Err(ImportError::BadSafetensors { .. })
    ));
    assert!(matches!(
        read_header(&dir.join("none")),
        Err(ImportError::Io { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
