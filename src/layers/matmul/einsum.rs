//! `Einsum` of two activations in the forms attention writes (MaxViT's
//! `"BGHID,BGHJD->BGHIJ"` and `"BGHIJ,BGHJD->BGHID"`): shared letters that stay (batches),
//! one letter of each operand that stays (rows, columns) and one that both share and is summed
//! over. Imported as a Transpose of each operand to `[batches.., rows, inner]` and
//! `[batches.., inner, columns]`, a [`MatMul`], and a Transpose to the output's order.

use super::MatMul;
use crate::error::Result;
use crate::layers::permute;
use crate::model::Op;
use crate::onnx::import::attributes::attr_s;
use crate::onnx::import::{unsupported, Importer, Val};
use crate::onnx::proto::NodeProto;

/// The letters of the two operands and of the output.
type Terms = (Vec<char>, Vec<char>, Vec<char>);

/// The letters of each operand and of the output, spaces dropped.
fn parse(eq: &str) -> std::result::Result<Terms, String> {
    let eq: String = eq.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, out) = eq
        .split_once("->")
        .ok_or("an equation without '->' (an implicit output) is not supported")?;
    let terms: Vec<&str> = lhs.split(',').collect();
    let [a, b] = terms.as_slice() else {
        return Err(format!("{} operands (glimpse takes two)", terms.len()));
    };
    let letters = |t: &str| -> std::result::Result<Vec<char>, String> {
        if !t.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(format!("term '{t}' (ellipses are not supported)"));
        }
        let v: Vec<char> = t.chars().collect();
        let mut u = v.clone();
        u.sort_unstable();
        u.dedup();
        if u.len() != v.len() {
            return Err(format!("term '{t}' repeats a letter (a diagonal)"));
        }
        Ok(v)
    };
    Ok((letters(a)?, letters(b)?, letters(out)?))
}

pub(crate) fn import_einsum<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
) -> Result<()> {
    let fail = |why: String| unsupported(n, name, why);
    let eq = attr_s(n, name, "equation")?.ok_or_else(|| fail("no equation".into()))?;
    let (a, b, out) = parse(&eq).map_err(fail)?;
    let (Val::Node(xa), Val::Node(xb)) = (imp.input(n, name, 0)?, imp.input(n, name, 1)?) else {
        return Err(fail("glimpse takes an Einsum of two activations".into()));
    };
    if imp.onnx_shape(xa).len() != a.len() || imp.onnx_shape(xb).len() != b.len() {
        return Err(fail(format!(
            "'{eq}' does not match its inputs' ranks {} and {}",
            imp.onnx_shape(xa).len(),
            imp.onnx_shape(xb).len()
        )));
    }
    let batch: Vec<char> = a
        .iter()
        .copied()
        .filter(|c| b.contains(c) && out.contains(c))
        .collect();
    let only = |x: &[char], y: &[char], keep: bool| -> Vec<char> {
        x.iter()
            .copied()
            .filter(|c| !y.contains(c) && out.contains(c) == keep)
            .collect()
    };
    let (rows, cols) = (only(&a, &b, true), only(&b, &a, true));
    let inner: Vec<char> = a
        .iter()
        .copied()
        .filter(|c| b.contains(c) && !out.contains(c))
        .collect();
    let summed = [only(&a, &b, false), only(&b, &a, false)].concat();
    if rows.len() != 1 || cols.len() != 1 || inner.len() != 1 || !summed.is_empty() {
        return Err(fail(format!(
            "'{eq}': glimpse takes batched matrix products (one row letter, one column letter, \
             one summed letter both share)"
        )));
    }
    let order = |term: &[char], wanted: &[char]| -> Vec<usize> {
        wanted
            .iter()
            .map(|c| {
                term.iter()
                    .position(|t| t == c)
                    .expect("a letter of the term")
            })
            .collect()
    };
    let left = [batch.clone(), rows.clone(), inner.clone()].concat();
    let right = [batch.clone(), inner.clone(), cols.clone()].concat();
    let pa = permute(imp, &format!("{name}:a"), xa, &order(&a, &left)).map_err(fail)?;
    let pb = permute(imp, &format!("{name}:b"), xb, &order(&b, &right)).map_err(fail)?;
    let (ids, whole) = imp.same_form(n, name, &[pa, pb])?;
    let k = *imp.shape(ids[0]).last().unwrap_or(&0);
    let op = MatMul { inner: k };
    if let Err(e) = crate::layers::Layer::output_shape(&op, &[imp.shape(ids[0]), imp.shape(ids[1])])
    {
        return Err(fail(e.to_string()));
    }
    let product = [batch, rows, cols].concat();
    let id = imp.push_node(&format!("{name}:matmul"), Op::MatMul(op), ids)?;
    if whole {
        imp.whole_form.insert(id);
    }
    let y = permute(imp, name, id, &order(&product, &out)).map_err(fail)?;
    imp.set(n, Val::Node(y))
}

#[cfg(test)]
mod tests {
    #[test]
    fn equations_parse_without_spaces_and_refuse_what_is_not_a_product() {
        let (a, b, o) = super::parse("B G H I D, B G H J D -> B G H I J").unwrap();
        assert_eq!((a.len(), b.len(), o.len()), (5, 5, 5));
        assert!(super::parse("ij,jk").is_err());
        assert!(super::parse("ii,jk->ik").is_err());
        assert!(super::parse("...ij,jk->ik").is_err());
        assert!(super::parse("ij,jk,kl->il").is_err());
    }
}
