fn main() {
    let mut source = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut source).unwrap();
    match goshawk_kql_syntax::parse_query(&source) {
        Ok(q) => println!("{q:#?}"),
        Err(d) => println!("{}", d.render(&source, &goshawk_kql_syntax::RenderOptions::default())),
    }
}
